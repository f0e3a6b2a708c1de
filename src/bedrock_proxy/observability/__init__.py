"""Signals about calls: the CallRecord every request ends as, and the sinks that consume it."""
