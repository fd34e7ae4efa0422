DROP FUNCTION IF EXISTS eccr_file_json(files);
DROP TRIGGER IF EXISTS files_queue_deletion ON files;
DROP FUNCTION IF EXISTS eccr_files_queue_deletion();
DROP TABLE IF EXISTS storage_deletions;
DROP TABLE IF EXISTS files;
