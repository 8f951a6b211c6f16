-- Events fetched with /backfill (Server-Server API "Backfilling and retrieving missing events")
-- join the timeline below everything the room already had: they take stream orderings from
-- this descending sequence (-1, -2, ...), as Synapse gives backfilled events negative stream
-- orderings. /messages pages by (depth, stream_ordering), so they sort where their depth puts
-- them; /sync reads positions above a token it issued (always >= 0), so they never arrive as
-- new; they are no forward extremity and never change current state.
CREATE SEQUENCE backfill_ordering_seq INCREMENT BY -1 MAXVALUE -1 START WITH -1;
