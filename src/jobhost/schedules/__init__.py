"""Recurring schedules: the cron arithmetic (no I/O); the firing loop and the use cases are
``service/``'s."""
