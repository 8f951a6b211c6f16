-- Events received over federation that passed the checks against the state before them but
-- not against the room's current state ("soft failed", Server-Server API "Soft failure"). They
-- are stored with outlier = true (no stream ordering: clients never see them, and they are no
-- forward extremity) but keep the state after them in state_group, so later events that
-- reference them resolve state as usual; this flag tells them apart from true outliers.
ALTER TABLE events ADD COLUMN soft_failed boolean NOT NULL DEFAULT false;
