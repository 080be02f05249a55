"""The one failure of a workflow step that is a reason to wait, not to give up.

``PrivacyStepBusy`` is matched by name by every Task's ``Retry`` in the state machine
(``infrastructure/privacy/privacy-requests.yaml``): Lambda reports an unhandled exception's class name as
its ``errorType``, so the name is the contract and must not change. It is raised when something the
person's data may be in is in use right now and cannot be erased yet: a Shopify bulk download that is
still running (its checkpoints and the parts it will write), a dead-letter queue whose messages someone
holds (a redrive, or an earlier attempt of this step that died while holding them). Progress is saved
before it is raised, so the retry resumes at the step that was busy.
"""

from __future__ import annotations


class PrivacyStepBusy(Exception):  # noqa: N818 - the state machine's Retry matches this exact name
    """Retry later: data the request must reach is in use right now."""
