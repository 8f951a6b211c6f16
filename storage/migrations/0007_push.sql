-- The tweaks of the push rule that decided a notification, other than highlight (which has
-- its own column): a JSON object such as {"sound": "default"}, or NULL when the rule set
-- none. The push sender passes them to the gateway (devices[].tweaks) and /notifications
-- shows them in the actions. Depends only on 0003 (applied in any order with 0011-0014).
ALTER TABLE event_push_actions ADD COLUMN tweaks text;
