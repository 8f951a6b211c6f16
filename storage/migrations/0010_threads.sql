-- The thread list (GET /v1/rooms/{roomId}/threads) groups a room's thread replies by root.
CREATE INDEX event_relations_room_threads ON event_relations (room_id, relates_to)
    WHERE rel_type = 'm.thread';
