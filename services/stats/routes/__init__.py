"""HTTP routes of the stats service: reports and job runs, for the operator role only."""
