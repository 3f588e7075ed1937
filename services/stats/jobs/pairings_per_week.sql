-- Devices paired per ISO week (starting Monday, UTC), region and model, for paired_at in
-- [%(since)s, %(until)s). A re-paired device counts in the week of its latest pairing.
INSERT INTO stats_pairings_per_week (run_id, week, region, model, pairings)
SELECT %(run_id)s, DATE(d.paired_at) - INTERVAL WEEKDAY(d.paired_at) DAY, LOWER(u.region), d.model COLLATE utf8mb4_bin,
       COUNT(*)
FROM devices d
JOIN users u ON u.id = d.user_id
WHERE d.paired_at >= %(since)s AND d.paired_at < %(until)s
GROUP BY DATE(d.paired_at) - INTERVAL WEEKDAY(d.paired_at) DAY, LOWER(u.region), d.model COLLATE utf8mb4_bin
