-- CheckHistory: a check's transitions on every host, newest first, a page at a time. The rowid
-- (id) ends every index entry, so (check_id, time) also orders by id.
CREATE INDEX transitions_check_time ON transitions (check_id, time);
