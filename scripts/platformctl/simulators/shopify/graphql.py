"""GraphQL on graphql-core: parse, validate against the declared Admin API subset, execute, and answer
errors in the shape Shopify's Admin API gives them.

Shopify runs graphql-ruby: a validation error names its own ``extensions.code`` (``undefinedField``,
``argumentNotAccepted``, ``missingRequiredArguments``, ``selectionMismatch``, ...) and a path through the
document (``["query", "orders", "foo"]``). Each graphql-core validation rule reports through
``_ShopifyRule.report_error``, which rewrites the error into that shape while the rule's context still
knows the parent type.

Beside the execution, ``parse_operation`` gives a plain view of a document's first operation (fields,
aliases, arguments with variables substituted, fragments): resolvers read their arguments from it and the
bulk export projects generated objects onto a bulk query's selection with ``project``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import graphql as gql
from graphql import language as ast
from graphql.execution import Executor
from graphql.validation import ASTValidationRule, ValidationContext

from platformctl.simulators.shopify.schema import SCHEMA


class GraphQLError(Exception):
    """An error a resolver reports; it becomes an entry of the response's ``errors``."""

    def __init__(self, message: str, *, code: str | None = None, extensions: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extensions = extensions or {}


class GraphQLSyntaxError(GraphQLError):
    def __init__(self, message: str, locations: list[dict[str, int]] | None = None) -> None:
        super().__init__(message, code="PARSE_ERROR")
        self.locations = locations or []

    def entry(self) -> dict[str, Any]:
        return {"message": self.message, "locations": self.locations, "extensions": {"code": "PARSE_ERROR"}}


# ============================================================================================ parsing


@functools.lru_cache(maxsize=512)
def parse_document(query: str) -> ast.DocumentNode:
    """The document (cached: the platform sends a handful of constant query texts)."""
    try:
        return gql.parse(query)
    except gql.GraphQLError as exc:
        where = [{"line": loc.line, "column": loc.column} for loc in exc.locations or []]
        at = f" at [{where[0]['line']}, {where[0]['column']}]" if where else ""
        raise GraphQLSyntaxError(f"Parse error: {exc.message}{at}", where) from None


def first_operation(document: ast.DocumentNode, name: str | None = None) -> ast.OperationDefinitionNode | None:
    for definition in document.definitions:
        if isinstance(definition, ast.OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition
    return None


# ========================================================================================= validation

_QUOTED = re.compile(r"'([^']*)'")


def _named(type_: Any) -> str:
    return gql.get_named_type(type_).name if type_ is not None else "?"


Reshape = Callable[[gql.GraphQLError, ValidationContext, list[str]], tuple[str, dict[str, Any]]]


def _undefined_field(
    error: gql.GraphQLError, context: ValidationContext, quoted: list[str]
) -> tuple[str, dict[str, Any]]:
    field, parent = ([*quoted, "?"])[0], _named(context.get_parent_type())
    return f"Field '{field}' doesn't exist on type '{parent}'", {"typeName": parent, "fieldName": field}


def _argument_not_accepted(
    error: gql.GraphQLError, context: ValidationContext, quoted: list[str]
) -> tuple[str, dict[str, Any]]:
    argument = ([*quoted, "?"])[0]
    field = quoted[1].rsplit(".", 1)[-1] if len(quoted) > 1 else "?"
    message = f"Field '{field}' doesn't accept argument '{argument}'"
    return message, {"name": field, "typeName": "Field", "argumentName": argument}


def _missing_arguments(
    error: gql.GraphQLError, context: ValidationContext, quoted: list[str]
) -> tuple[str, dict[str, Any]]:
    found = re.search(r"\.(?P<field>\w+)\((?P<argument>\w+):\)", error.message)
    field, argument = (found["field"], found["argument"]) if found else ("?", "?")
    message = f"Field '{field}' is missing required arguments: {argument}"
    return message, {"className": "Field", "name": field, "arguments": argument}


def _selection_mismatch(
    error: gql.GraphQLError, context: ValidationContext, quoted: list[str]
) -> tuple[str, dict[str, Any]]:
    field, returns = ([*quoted, "?", "?"])[:2]
    name = f"field '{field}'"
    node = error.nodes[0] if error.nodes else None
    if isinstance(node, ast.SelectionSetNode):
        chosen = ", ".join(s.name.value for s in node.selections if isinstance(s, ast.FieldNode))
        message = f"Selections can't be made on scalars ({name} returns {returns} but has selections [{chosen}])"
    else:
        message = (
            f"Field must have selections ({name} returns {returns} but has no selections. "
            f"Did you mean '{field} {{ ... }}'?)"
        )
    return message, {"nodeName": name, "typeName": returns}


def _variable(error: gql.GraphQLError, context: ValidationContext, quoted: list[str]) -> tuple[str, dict[str, Any]]:
    variable = ([*quoted, "?"])[0].lstrip("$")
    operation = next((n for n in error.nodes or () if isinstance(n, ast.OperationDefinitionNode)), None)
    named = operation.name.value if operation is not None and operation.name is not None else None
    named = named or (quoted[1] if len(quoted) > 1 else None)  # "never used in operation 'S'" names it
    label = named or f"anonymous {operation.operation.value if operation else 'query'}"
    if "never used" in error.message:
        return f"Variable ${variable} is declared by {label} but not used", {"variableName": variable}
    return f"Variable ${variable} is used by {label} but not declared", {"variableName": variable}


def _undefined_type(
    error: gql.GraphQLError, context: ValidationContext, quoted: list[str]
) -> tuple[str, dict[str, Any]]:
    name = ([*quoted, "?"])[0]
    return f"No such type {name}, so it can't be a fragment condition", {"typeName": name}


def _fragment(error: gql.GraphQLError, context: ValidationContext, quoted: list[str]) -> tuple[str, dict[str, Any]]:
    name = ([*quoted, "?"])[0]
    state = "defined, but not used" if "never used" in error.message else "used, but not defined"
    return f"Fragment {name} was {state}", {"fragmentName": name}


def _spread(error: gql.GraphQLError, context: ValidationContext, quoted: list[str]) -> tuple[str, dict[str, Any]]:
    parent, fragment = (["?", "?", *quoted])[-2:]
    return f"Fragment on {fragment} can't be spread inside {parent}", {"typeName": fragment, "parentName": parent}


def _literal(error: gql.GraphQLError, context: ValidationContext, quoted: list[str]) -> tuple[str, dict[str, Any]]:
    argument, node = _argument_name(context), (error.nodes[0] if error.nodes else None)
    shown = gql.print_ast(node) if node is not None else "?"
    message = (
        f"Argument '{argument}' on Field '{_field_name(context)}' has an invalid value ({shown}). "
        f"Expected type '{context.get_input_type()}'."
    )
    return message, {"typeName": "Field", "argumentName": argument}


# graphql-core rule -> (graphql-ruby's code, its wording); other rules answer graphql-core's wording, with
# the rule's name as the code when graphql-ruby has none.
_SHOPIFY: dict[str, tuple[str, Reshape | None]] = {
    "FieldsOnCorrectTypeRule": ("undefinedField", _undefined_field),
    "KnownArgumentNamesRule": ("argumentNotAccepted", _argument_not_accepted),
    "ProvidedRequiredArgumentsRule": ("missingRequiredArguments", _missing_arguments),
    "ScalarLeafsRule": ("selectionMismatch", _selection_mismatch),
    "NoUndefinedVariablesRule": ("variableNotDefined", _variable),
    "NoUnusedVariablesRule": ("variableNotUsed", _variable),
    "KnownTypeNamesRule": ("undefinedType", _undefined_type),
    "KnownFragmentNamesRule": ("useAndDefineFragment", _fragment),
    "NoUnusedFragmentsRule": ("useAndDefineFragment", _fragment),
    "PossibleFragmentSpreadsRule": ("cannotSpreadFragment", _spread),
    "ValuesOfCorrectTypeRule": ("argumentLiteralsIncompatible", _literal),
    "VariablesInAllowedPositionRule": ("variableMismatch", None),
    "UniqueArgumentNamesRule": ("argumentUniqueness", None),
    "UniqueVariableNamesRule": ("variableUniqueness", None),
    "UniqueFragmentNamesRule": ("fragmentUniqueness", None),
    "UniqueOperationNamesRule": ("operationUniqueness", None),
    "LoneAnonymousOperationRule": ("anonymousOperationUniqueness", None),
    "KnownDirectivesRule": ("undefinedDirective", None),
    "OverlappingFieldsCanBeMergedRule": ("fieldConflict", None),
}


def _shopify_entry(rule: str, error: gql.GraphQLError, context: ValidationContext) -> tuple[str, dict[str, Any]]:
    """graphql-core's error as graphql-ruby words and codes it: (message, extensions)."""
    code, reshape = _SHOPIFY.get(rule, (rule, None))
    if reshape is None:
        return error.message, {"code": code}
    message, details = reshape(error, context, _QUOTED.findall(error.message))
    return message, {"code": code, **details}


def _argument_name(context: ValidationContext) -> str:
    argument, field = context.get_argument(), context.get_field_def()
    if argument is not None and field is not None:
        for name, candidate in field.args.items():
            if candidate is argument:
                return name
    return "?"


def _field_name(context: ValidationContext) -> str:
    parent, field = context.get_parent_type(), context.get_field_def()
    if isinstance(parent, gql.GraphQLObjectType | gql.GraphQLInterfaceType) and field is not None:
        for name, candidate in parent.fields.items():
            if candidate is field:
                return str(name)
    return "?"


class _ShopifyContext:
    """A rule's view of the validation context: everything delegated, errors reported in Shopify's shape
    (rules report through ``self.report_error`` or straight to ``self.context``, so the context is wrapped)."""

    def __init__(self, context: ValidationContext, rule: str) -> None:
        self._context = context
        self._rule = rule

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: gql.GraphQLError) -> None:
        message, extensions = _shopify_entry(self._rule, error, self._context)
        self._context.report_error(gql.GraphQLError(message, error.nodes, extensions=extensions))


class _ShopifyRule(ASTValidationRule):
    """Mixed into each graphql-core rule: its errors come out in Shopify's shape."""

    rule_name = ""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(cast("ValidationContext", _ShopifyContext(context, self.rule_name)))


_RULES: tuple[type[ASTValidationRule], ...] = tuple(
    type(rule.__name__, (_ShopifyRule, rule), {"rule_name": rule.__name__}) for rule in gql.specified_rules
)


@functools.lru_cache(maxsize=512)
def validation_errors(query: str) -> tuple[dict[str, Any], ...]:
    """The document's validation errors against the schema, Shopify-shaped (none for a valid document).
    The query must parse (``parse_document``)."""
    document = parse_document(query)
    found = gql.validate(SCHEMA, document, _RULES)
    paths = _node_paths(document)
    entries = []
    for error in found:
        entry: dict[str, Any] = {"message": error.message}
        if error.locations:
            entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        path = next((paths[id(n)] for n in error.nodes or [] if id(n) in paths), None)
        if path is not None:
            entry["path"] = path
        entry["extensions"] = dict(error.extensions or {})
        entries.append(entry)
    return tuple(entries)


def _node_paths(document: ast.DocumentNode) -> dict[int, list[str]]:
    """Each field, fragment, argument (and argument value) of the document -> its graphql-ruby path."""
    paths: dict[int, list[str]] = {}

    def visit(node: Any, path: list[str]) -> None:
        if isinstance(node, ast.FieldNode):
            path = [*path, (node.alias or node.name).value]
            for argument in node.arguments or ():
                paths[id(argument)] = paths[id(argument.value)] = [*path, argument.name.value]
        elif isinstance(node, ast.InlineFragmentNode):
            condition = node.type_condition
            path = [*path, f"... on {condition.name.value}" if condition else "..."]
        elif isinstance(node, ast.FragmentSpreadNode):
            path = [*path, f"... {node.name.value}"]
        paths[id(node)] = path
        selections = getattr(node, "selection_set", None)
        for child in selections.selections if selections else ():
            visit(child, path)

    for definition in document.definitions:
        if isinstance(definition, ast.OperationDefinitionNode):
            label = definition.operation.value + (f" {definition.name.value}" if definition.name else "")
            for variable in definition.variable_definitions or ():
                paths[id(variable)] = [label]
            visit(definition, [label])
        elif isinstance(definition, ast.FragmentDefinitionNode):
            visit(definition, [f"fragment {definition.name.value}"])
    return paths


# ========================================================================================== execution

RootResolver = Callable[[str, dict[str, Any]], Any]  # (field name, coerced variables) -> value


class _EchoingExecutor(Executor[Any]):
    """Leaves that do not coerce to their scalar (a stored REST resource with ``"quantity": "lots"``) are
    answered as stored, as the hand-rolled projection did: tests hand the processors bad data on purpose,
    and the simulator echoes the shop's data rather than judging it."""

    @staticmethod
    def complete_leaf_value(return_type: gql.GraphQLLeafType, result: Any) -> Any:
        try:
            return Executor.complete_leaf_value(return_type, result)
        except (gql.GraphQLError, TypeError, ValueError):
            return result


def run(
    document: ast.DocumentNode, variables: dict[str, Any], resolve: RootResolver, operation_name: str | None = None
) -> dict[str, Any]:
    """Execute a validated document; each top-level field is ``resolve(name, variables)``, the rest is
    graphql-core's completion of the value against the schema. The response body's data and errors."""
    operation = first_operation(document, operation_name)
    root_type = SCHEMA.mutation_type if operation and operation.operation == ast.OperationType.MUTATION else None
    root_type = root_type or SCHEMA.query_type
    assert root_type is not None  # noqa: S101 - the schema declares both roots

    def field(name: str) -> Callable[..., Any]:
        return lambda info, **_: resolve(name, dict(info.variable_values.coerced))

    root = {name: field(name) for name in root_type.fields}
    result = gql.execute_sync(
        SCHEMA,
        document,
        root,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=_EchoingExecutor,
    )
    if result.data is None and result.errors and _are_variable_errors(result.errors):
        return {"errors": [_variable_entry(e, variables) for e in result.errors]}
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_execution_entry(e) for e in result.errors]
    if result.data is not None:
        body["data"] = result.data
    return body


def _are_variable_errors(errors: list[gql.GraphQLError]) -> bool:
    return all(e.nodes and isinstance(e.nodes[0], ast.VariableDefinitionNode) for e in errors)


def _variable_entry(error: gql.GraphQLError, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Shopify's answer to a variable that does not coerce to its declared type."""
    node = error.nodes[0] if error.nodes else None
    assert isinstance(node, ast.VariableDefinitionNode)  # noqa: S101 - checked by _are_variable_errors
    name = node.variable.name.value
    entry: dict[str, Any] = {
        "message": f"Variable ${name} of type {gql.print_ast(node.type)} was provided invalid value",
        "extensions": {
            "code": "INVALID_VARIABLE",
            "value": variables.get(name),
            "problems": [{"path": [], "explanation": error.message}],
        },
    }
    if error.locations:
        entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return entry


def _execution_entry(error: gql.GraphQLError) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": error.message}
    if error.locations:
        entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        entry["path"] = list(error.path)
    original = error.original_error
    if isinstance(original, GraphQLError):
        entry["message"] = original.message
        extensions = ({"code": original.code} if original.code else {}) | original.extensions
        if extensions:
            entry["extensions"] = extensions
    return entry


# ================================================================ the plain view of an operation


@dataclass
class Field:
    name: str
    alias: str | None
    arguments: dict[str, Any]
    selections: list[Selection]

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class InlineFragment:
    type_condition: str | None
    selections: list[Selection]


@dataclass
class FragmentSpread:
    name: str


Selection = Field | InlineFragment | FragmentSpread


@dataclass
class Operation:
    kind: str  # query | mutation
    fields: list[Field]
    fragments: dict[str, InlineFragment]


def parse_operation(query: str, variables: dict[str, Any] | None = None) -> Operation:
    """The document's first operation, variables (and their defaults) resolved into the arguments."""
    document = parse_document(query)
    operation = first_operation(document)
    if operation is None:
        raise GraphQLSyntaxError("the document has no operation")
    values = dict(variables or {})
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            values.setdefault(definition.variable.name.value, gql.value_from_ast_untyped(definition.default_value))
    fragments = {
        d.name.value: InlineFragment(d.type_condition.name.value, _selections(d.selection_set, values))
        for d in document.definitions
        if isinstance(d, ast.FragmentDefinitionNode)
    }
    top = _selections(operation.selection_set, values)
    return Operation(operation.operation.value, [s for s in top if isinstance(s, Field)], fragments)


def _selections(selection_set: ast.SelectionSetNode | None, variables: dict[str, Any]) -> list[Selection]:
    found: list[Selection] = []
    for node in selection_set.selections if selection_set else ():
        if isinstance(node, ast.FieldNode):
            arguments = {a.name.value: gql.value_from_ast_untyped(a.value, variables) for a in node.arguments or ()}
            alias = node.alias.value if node.alias else None
            found.append(Field(node.name.value, alias, arguments, _selections(node.selection_set, variables)))
        elif isinstance(node, ast.InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            found.append(InlineFragment(condition, _selections(node.selection_set, variables)))
        elif isinstance(node, ast.FragmentSpreadNode):
            found.append(FragmentSpread(node.name.value))
    return found


def field_arguments(query: str, variables: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The arguments of the first top-level field called ``name`` (for resolvers in ``QUERY_FIELDS``)."""
    for top in parse_operation(query, variables).fields:
        if top.name == name:
            return top.arguments
    return {}


def flatten(selections: list[Selection], value: dict[str, Any], fragments: dict[str, InlineFragment]) -> list[Field]:
    """The fields a selection set asks of ``value``: fragments whose type condition it meets spread in."""
    fields: list[Field] = []
    for selection in selections:
        if isinstance(selection, Field):
            fields.append(selection)
            continue
        fragment = fragments.get(selection.name) if isinstance(selection, FragmentSpread) else selection
        if fragment is None:
            raise GraphQLError(f"Fragment {getattr(selection, 'name', '?')} was used, but not defined")
        typename = value.get("__typename")
        if fragment.type_condition is None or typename is None or fragment.type_condition == typename:
            fields.extend(flatten(fragment.selections, value, fragments))
    return fields


def project(value: Any, selections: list[Selection], fragments: dict[str, InlineFragment] | None = None) -> Any:
    """Keep only what the selection set asks for, under the aliases it uses."""
    if not selections or value is None:
        return value
    if isinstance(value, list):
        return [project(item, selections, fragments) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for selected in flatten(selections, value, fragments or {}):
        result[selected.key] = project(value.get(selected.name), selected.selections, fragments)
    return result
