"""Integrations: what leaves the app on its own (issue 22). E-mail through SMTP (an outbox), signed
webhooks (Standard Webhooks), the Greenhouse completion callback; sent by a dispatch thread beside
the reaper, retried with backoff, logged. It sits above the store and below the queue and the web
layers, which call `emit` when something happens to an invite."""
from harness.notify.events import EVENTS, emit

__all__ = ["EVENTS", "emit"]
