ALTER INDEX activity_logs_search RESET (fastupdate);
