DROP TRIGGER IF EXISTS jobs_notify ON jobs;
DROP FUNCTION IF EXISTS eccr_jobs_notify();
DROP FUNCTION IF EXISTS eccr_job_json(jobs);
DROP TABLE IF EXISTS jobs;
