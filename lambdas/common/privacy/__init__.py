"""The privacy library shared by the compliance webhook, the indexer and the privacy workflow.

``digest`` (keyed e-mail/phone digests), ``subjects`` (what a stored document is about), ``person``
(everything known to identify the person a request is about), ``redact`` (a document without their
contact data), ``index`` (the DynamoDB subject -> location index) and ``requests`` (the request record
and the keys derived from its id). docs/privacy.md has the workflow these serve.
"""
