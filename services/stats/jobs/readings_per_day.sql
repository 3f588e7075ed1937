-- Readings per day x region x reading type, with the distinct devices and users behind them,
-- for measured_at in [%(since)s, %(until)s).
INSERT INTO stats_readings_per_day (run_id, day, region, reading_type, readings, active_devices, active_users)
SELECT %(run_id)s, DATE(r.measured_at), LOWER(u.region), r.type,
       COUNT(*), COUNT(DISTINCT r.device_id), COUNT(DISTINCT r.user_id)
FROM readings r
JOIN users u ON u.id = r.user_id
WHERE r.measured_at >= %(since)s AND r.measured_at < %(until)s
GROUP BY DATE(r.measured_at), LOWER(u.region), r.type
