-- Active devices (at least one reading measured since %(since)s) by model, firmware and region.
-- Models and firmware are compared byte-wise, as in the streaming aggregates ('BP-1' is not 'bp-1').
-- The correlated subquery is a scalar select on purpose: it runs as one index dive per device into
-- readings (device_id, measured_at, id), stops at the first hit, and cannot be turned into a scan of
-- every reading in the window (a semi-join materialisation would read all of them).
INSERT INTO stats_active_devices_by_model (run_id, model, firmware, region, active_devices)
SELECT %(run_id)s, a.model, a.firmware, a.region, COUNT(*)
FROM (
    SELECT d.model COLLATE utf8mb4_bin AS model,
           COALESCE(d.firmware, '') COLLATE utf8mb4_bin AS firmware,
           LOWER(u.region) AS region,
           (SELECT 1 FROM readings r
             WHERE r.device_id = d.id AND r.measured_at >= %(since)s
             LIMIT 1) AS active
    FROM devices d
    JOIN users u ON u.id = d.user_id
) a
WHERE a.active = 1
GROUP BY a.model, a.firmware, a.region
