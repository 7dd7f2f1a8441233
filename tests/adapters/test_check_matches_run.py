"""`actorserve check` refuses what `actorserve run` refuses, with the same one line, and serves nothing."""

from __future__ import annotations

from pathlib import Path

import pykka
import pytest

from actorserve.actors import plugins
from actorserve.adapters.cli import main
from actorserve.adapters.config import load_config
from actorserve.adapters.preflight import validate_config
from actorserve.domain import ConfigError, ModelVersion
from tests.fakes import FakeInvoker

ROOT = Path(__file__).resolve().parents[2]

TWO = '[[models]]\nname = "x"\nversions = [{ id = "a" }, { id = "b" }, { id = "c" }]\n'


def one(parameters: str, **version: str) -> str:
    extra = "".join(f", {k} = {v}" for k, v in version.items())
    return f'[[models]]\nname = "x"\nversions = [{{ id = "a", parameters = {{ {parameters} }}{extra} }}]\n'


def experiment(kind: str, body: str) -> str:
    return f'{TWO}[[experiments]]\ntype = "{kind}"\nid = "e1"\n{body}\n'


REFUSED = [
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nweights = ["x", "y"]'),
        "experiments[0].weights[0]: must be a number (got 'x')",
        id="ab-weights-as-strings",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nweights = [1, true]'),
        "experiments[0].weights[1]: must be a number (got True)",
        id="ab-weight-as-bool",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nweights = [1]'),
        "experiments[0].weights: need one per arm (2), got 1",
        id="ab-weights-count",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nalpha = 1.5'),
        "experiments[0].alpha: must be between 0 and 1",
        id="ab-alpha",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "a"]'), "experiments[0].arms: the same version appears twice", id="ab-arms"
    ),
    pytest.param(experiment("ab_test", "min_samples = 5"), "experiments[0].arms: missing", id="ab-no-arms"),
    pytest.param(
        experiment("ab_test", 'arms = [["a"], "b"]'),
        "experiments[0].arms[0]: must be a version id string (got ['a'])",
        id="ab-arm-not-a-string",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\ntau = 0'),
        "experiments[0].tau: must be a finite number > 0 or None (got 0.0)",
        id="ab-tau-zero",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nsuccess_metric = "error_rate"\nmde = 1.5'),
        "experiments[0].mde: must be between 0 and 1 (exclusive) for a rate (got 1.5)",
        id="ab-mde-out-of-range",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nconclude = "maybe"'),
        "experiments[0].conclude: must be one of never, stop, promote (got 'maybe')",
        id="ab-conclude-unknown",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\nconclude = "stop"\nsequential = false'),
        "experiments[0].conclude: auto-conclusion needs sequential=True",
        id="ab-conclude-without-sequential",
    ),
    pytest.param(
        experiment("ab_test", 'arms = ["a", "b"]\ncovariates = { u1 = "high" }'),
        "experiments[0].covariates: 'u1' must map to a finite number (got 'high')",
        id="ab-covariate-not-a-number",
    ),
    pytest.param(
        experiment("ensemble", 'members = ["a", "b"]\nmin_agreements = 5'),
        "experiments[0].min_agreements: must be between 1 and the member count 2 (got 5)",
        id="ensemble-quorum-too-large",
    ),
    pytest.param(
        experiment("ensemble", 'members = ["a"]'),
        "experiments[0].members: an ensemble needs at least 2 members",
        id="ensemble-one-member",
    ),
    pytest.param(
        experiment("ensemble", 'members = ["a", "b"]\naggregation_method = "median"'),
        "experiments[0].aggregation_method: must be one of",
        id="ensemble-method",
    ),
    pytest.param(
        experiment("ensemble", 'members = ["a", "b"]\nweights = { a = "heavy" }'),
        "experiments[0].weights.a: must be a number (got 'heavy')",
        id="ensemble-weight-as-string",
    ),
    pytest.param(
        experiment("ensemble", 'members = ["a", "b"]\nweights = { c = 1 }'),
        "experiments[0].weights: 'c' is not a member",
        id="ensemble-weight-for-a-non-member",
    ),
    pytest.param(
        experiment("shadow", 'primary = "a"\nshadow = "a"'),
        "experiments[0].shadow: must differ from the primary",
        id="shadow-same-version",
    ),
    pytest.param(
        experiment("shadow", 'primary = "a"\nshadow = "b"\ntraffic_percentage = 150'),
        "experiments[0].traffic_percentage: must be between 0 and 100",
        id="shadow-percentage",
    ),
    pytest.param(experiment("shadow", 'primary = "a"'), "experiments[0].shadow: missing", id="shadow-no-shadow"),
    pytest.param(
        experiment("canary", 'baseline = "a"\ncandidate = "b"\nsteps = [10, 50]'),
        "experiments[0].steps: the last step must be 100",
        id="canary-steps-end",
    ),
    pytest.param(
        experiment("canary", 'baseline = "a"\ncandidate = "b"\nsteps = ["half", 100]'),
        "experiments[0].steps[0]: must be a number (got 'half')",
        id="canary-step-as-string",
    ),
    pytest.param(
        experiment("canary", 'baseline = "a"\ncandidate = "b"\nmax_p95_ratio = 0.5'),
        "experiments[0].max_p95_ratio: must be >= 1",
        id="canary-ratio",
    ),
    pytest.param(
        one('price_per_1k_input_tokens = "0.001"'),
        "models[0].versions[0].parameters.price_per_1k_input_tokens: must be a number >= 0 (got '0.001')",
        id="price-as-string",
    ),
    pytest.param(
        one("price_per_second = -1"),
        "models[0].versions[0].parameters.price_per_second: must be a number >= 0 (got -1)",
        id="negative-price",
    ),
    pytest.param(
        one('invoker = "quantum"'),
        "models[0].versions[0].parameters.invoker: unknown 'quantum'",
        id="unknown-invoker",
    ),
    pytest.param(
        one('latency_ms = "fast"'),
        "models[0].versions[0].parameters.latency_ms: must be a number >= 0 (got 'fast')",
        id="simulated-latency-as-string",
    ),
    pytest.param(
        one("error_rate = 3"),
        "models[0].versions[0].parameters.error_rate: must be between 0 and 1 (got 3)",
        id="simulated-error-rate",
    ),
    pytest.param(
        one('model_path = "model.pkl"', framework='"sklearn"'),
        "models[0].versions[0].parameters.allow_pickle: model.pkl is a pickle file",
        id="sklearn-pickle-without-allow-pickle",
    ),
    pytest.param(
        one('model_path = "model.onnx", intra_op_threads = "two"', framework='"onnx"'),
        "models[0].versions[0].parameters.intra_op_threads: must be int (got str)",
        id="onnx-threads-as-string",
    ),
    pytest.param(
        one("model_name = 7", framework='"v2"', endpoint='"http://127.0.0.1:1"'),
        "models[0].versions[0].parameters.model_name: must be str (got int)",
        id="v2-model-name-as-int",
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_check_refuses_what_run_refuses_with_the_same_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "quickstart.toml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    checked = capsys.readouterr()
    assert checked.out == ""
    assert checked.err.startswith(f"actorserve: {path}: {message}")
    assert checked.err.count("\n") == 1
    assert main(["run", str(path), "--no-progress"]) == 2
    ran = capsys.readouterr()
    assert ran.err == checked.err
    assert "Traceback" not in ran.err


@pytest.mark.parametrize("name", ["quickstart.toml", "backends.toml"])
def test_check_accepts_the_examples(capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert main(["check", str(ROOT / "examples" / name)]) == 0
    assert ": ok (" in capsys.readouterr().out


class SpyInvoker(FakeInvoker):
    """A backend that records what it was asked to validate, and refuses one version."""

    def __init__(self) -> None:
        super().__init__()
        self.validated: list[str] = []

    def validate(self, version: ModelVersion) -> None:
        self.validated.append(version.version_id)
        if version.parameters.get("bad"):
            raise ConfigError("parameters.bad: refused by the spy", field="parameters.bad")


def test_check_asks_each_versions_backend_to_validate_without_starting_actors_or_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = SpyInvoker()
    monkeypatch.setitem(plugins._factories, "spy", lambda: spy)
    path = tmp_path / "spy.toml"
    versions = '{ id = "a", framework = "spy" }, { id = "b", parameters = { invoker = "spy" } }, { id = "c" }'
    path.write_text(f'[[models]]\nname = "x"\nversions = [{versions}]\n')
    assert main(["check", str(path)]) == 0
    assert spy.validated == ["a", "b"]
    assert spy.loads == 0
    assert pykka.ActorRegistry.get_all() == []
    assert "ok (3 versions)" in capsys.readouterr().out


def test_a_backend_refusal_names_the_version_by_its_place_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = SpyInvoker()
    monkeypatch.setitem(plugins._factories, "spy", lambda: spy)
    path = tmp_path / "spy.toml"
    path.write_text(
        '[[models]]\nname = "x"\nversions = [{ id = "a" }]\n'
        '[[models]]\nname = "y"\nversions = [{ id = "b" }, { id = "c", framework = "spy", parameters = { bad = 1 } }]\n'
    )
    from actorserve.adapters.cli import build_invokers

    config = load_config(path)
    invokers = build_invokers(config)
    try:
        with pytest.raises(ConfigError, match=r"^models\[1\]\.versions\[1\]\.parameters\.bad: refused by the spy$"):
            validate_config(config, invokers)
    finally:
        invokers.close()
