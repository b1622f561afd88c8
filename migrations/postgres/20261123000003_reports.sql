-- Activity reports count history entries by when they happened.
CREATE INDEX history_occurred ON history (occurred_at);
