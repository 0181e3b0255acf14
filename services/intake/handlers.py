"""Intake's bus handlers: none. Intake consumes no event, so it has no queue and no consumer spec.

It publishes the case events (contracts in shared.events.case), each written to the outbox in the transaction of
its change (service.py) and sent by `flask outbox relay`: case.opened, case.parties_changed, case.contact_logged,
case.measure_changed, case.closed, case.corrected, case.project_end_status and case.erased (privacy.py). Consent,
notify and the registry consume them.
"""
