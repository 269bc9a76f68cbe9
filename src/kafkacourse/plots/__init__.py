"""Every chart the lessons draw: live charts fed from a loop, timelines, heat maps, latency curves."""
