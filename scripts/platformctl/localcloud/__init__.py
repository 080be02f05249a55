"""The local cloud: moto in-process on 127.0.0.1, extended so the repository's real templates deploy
into it and behave as on AWS (see DESIGN.md section 6 and docs/local-cloud.md).

Modules: ``server`` (start/stop, deploy, endpoints file), ``cfn_engine`` (change-set execution with
resource events and failure states), ``providers`` (resource types moto's CloudFormation skips, created
through the service APIs), ``properties`` (properties moto's CloudFormation drops, applied after
create), ``support`` (the table of every handled type and property), ``lambda_runtime`` and
``lambda_worker`` (the repository's handlers in worker processes), ``eventbridge`` (rule delivery to
Lambda targets), ``http_front`` (API Gateway HTTP APIs), ``schedules`` (firing schedules on demand).
"""
