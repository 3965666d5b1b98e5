-- CheckHistory: a check's transitions on every host, newest first, a page at a time.
CREATE INDEX transitions_check_time ON transitions (check_id, time DESC, id DESC);
