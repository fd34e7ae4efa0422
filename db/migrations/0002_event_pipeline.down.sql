DROP TABLE IF EXISTS activity_logs;
DROP TABLE IF EXISTS event_deliveries;
