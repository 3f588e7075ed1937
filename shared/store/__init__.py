"""Writes of the processed data (devices, readings, settings) with their change_log and outbox rows.

The sync service and the migration worker both write through here, so a migrated reading appears
in delta sync and in the event stream exactly like one uploaded by a phone (DESIGN section 2).
"""
