"""Arrow schemas (the single source of truth) and the shard I/O shared by jobs and trainer."""
