-- Event properties the shipped example plugins read, registered as presets so that every
-- example plugin works on the strict default policy:
-- - is_first_time: the newUser virtual event's condition (tracking plan §5.1: AppStart or
--   pageview with is_first_time = true);
-- - orderDetailId: the order an event is about, which the identity-rules plugin links to the
--   buyer's userid (it is an identity key as well: user_identity_properties has it).
INSERT INTO event_properties (`key`, name, value_type, is_reserve, proposer, create_time) VALUES
    ('is_first_time', '是否首次访问', 2, 1, 'system', 1556409600),
    ('orderDetailId', '子订单号', 0, 1, 'system', 1556409600);

UPDATE registry_version SET version = version + 1 WHERE id = 1;
