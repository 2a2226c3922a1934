"""The search space of a sweep: ``FIELD=KIND:RANGE`` specs, checked against the training recipe.

Parsing and checking import neither Optuna nor the ML stack (the CLI and the recipe's
validation run them before any job starts); ``distribution`` builds Optuna's object inside
the job. A spec that names no training field, or whose range is empty, is one
``RecipeError`` line naming the parameter.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..engine.errors import RecipeError

KINDS = ("loguniform", "uniform", "int", "choice")
FORMS = "loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH[:STEP] or choice:A,B,…"


@dataclass(frozen=True)
class Param:
    name: str
    """Dotted training-recipe field (``lora.r``)."""
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: int = 1
    choices: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind == "loguniform"

    def extremes(self) -> tuple[Any, ...]:
        """The values that bound the range (every choice), each checked against the recipe."""
        return self.choices if self.kind == "choice" else (self.low, self.high)

    def distribution(self) -> Any:
        import optuna.distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(self.choices)
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), step=self.step)  # type: ignore[arg-type]
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log)  # type: ignore[arg-type]


def _number(text: str, where: str, kind: type = float) -> Any:
    try:
        return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
    except ValueError:
        raise RecipeError(f"{where}: {text!r} is not {'an integer' if kind is int else 'a number'}") from None


def _scalar(value: Any) -> Any:
    """A YAML scalar, with ``1e-07`` read as the number YAML 1.1 leaves a string."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def parse_param(name: str, spec: str) -> Param:
    """``parse_param("lora.r", "choice:8,16,32")``; a ``RecipeError`` naming the parameter when malformed."""
    import yaml

    where = f"param {name}={spec}"
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS:
        raise RecipeError(f"{where}: expected {FORMS}")
    if kind == "choice":
        values = [v.strip() for v in rest.split(",") if v.strip()]
        if not values:
            raise RecipeError(f"{where}: empty choice (give at least one value: choice:8,16,32)")
        parsed = tuple(dict.fromkeys(_scalar(yaml.safe_load(v)) for v in values))
        return Param(name, kind, choices=parsed)
    parts = [p.strip() for p in rest.split(":")]
    if len(parts) not in (2, 3) or not all(parts) or (len(parts) == 3 and kind != "int"):
        raise RecipeError(f"{where}: expected {FORMS}")
    number = int if kind == "int" else float
    low, high = _number(parts[0], where, number), _number(parts[1], where, number)
    step = _number(parts[2], where, int) if len(parts) == 3 else 1
    if not low < high:
        raise RecipeError(f"{where}: empty range (the low end {low} must be below the high end {high})")
    if kind == "loguniform" and low <= 0:
        raise RecipeError(f"{where}: a log range starts above 0")
    if kind == "int" and (step < 1 or high - low < step):
        raise RecipeError(f"{where}: empty range (step {step} does not fit between {low} and {high})")
    return Param(name, kind, low, high, step)


def parse_params(params: dict[str, str]) -> list[Param]:
    return [parse_param(name, spec) for name, spec in params.items()]


def apply(train: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The training recipe mapping with ``values`` (dotted keys) set; ``train`` is left as it was."""
    out = copy.deepcopy(train)
    for name, value in values.items():
        node = out
        *parents, leaf = name.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return out


def _field_problem(name: str) -> str | None:
    """Why ``name`` is not a leaf field of the training recipe (None when it is)."""
    from pydantic import BaseModel

    from .train import TrainRecipe

    schema: type[BaseModel] = TrainRecipe
    parts = name.split(".")
    for depth, part in enumerate(parts):
        fields = schema.model_fields
        if part not in fields or part == "stage":
            known = ", ".join(f for f in fields if f != "stage")
            at = ".".join(parts[:depth]) or "the training recipe"
            return f"names no field of the training recipe ({at} has: {known})"
        annotation = fields[part].annotation
        nested = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if depth < len(parts) - 1 and nested is None:
            return f"{'.'.join(parts[:depth + 1])} is a value, not a section"
        if depth == len(parts) - 1 and nested is not None:
            return f"{name} is a section; name one of its fields ({', '.join(nested.model_fields)})"
        schema = nested  # type: ignore[assignment]
    return None


def check_params(train: dict[str, Any], params: dict[str, str]) -> list[Param]:
    """Every parameter names a training field and each end of its range makes a valid training
    recipe; the first problem is one ``RecipeError`` naming the parameter."""
    from pydantic import ValidationError

    from .train import TrainRecipe

    parsed = parse_params(params)
    for param in parsed:
        problem = _field_problem(param.name)
        if problem:
            raise RecipeError(f"param {param.name}={params[param.name]}: {problem}")
        for value in param.extremes():
            try:
                TrainRecipe.model_validate(apply(train, {param.name: value}))
            except ValidationError as exc:
                errors = [e for e in exc.errors() if ".".join(map(str, e["loc"])) == param.name]
                if errors:
                    raise RecipeError(f"param {param.name}={params[param.name]}: {value!r} is not allowed "
                                      f"({errors[0]['msg']})") from None
    try:
        TrainRecipe.model_validate(train)
    except ValidationError as exc:
        from .loading import format_validation_error

        raise RecipeError(format_validation_error(exc, "the sweep's training recipe")) from None
    return parsed
