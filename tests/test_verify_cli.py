"""`ionis-tui verify`: output formats and exit status (0 all pass, 1 any fail, 2 error)."""

import json

import pytest

from engine.cli import main

FIELDS = {"id", "name", "group", "value_db", "value_sigma", "threshold", "passed", "grade", "explanation"}


def _run(capsys, *args):
    code = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_is_a_list_of_results_and_a_failure_exits_1(capsys, v22_file, tmp_path):
    md = tmp_path / "out" / "v22.md"
    code, out, _ = _run(capsys, "--checkpoint", v22_file, "--json", "--markdown", md)
    assert code == 1  # the published V22 fails the sun-sidecar check
    items = json.loads(out)
    assert isinstance(items, list) and all(FIELDS <= set(i) for i in items)
    by_id = {i["id"]: i for i in items}
    assert by_id["SIDECAR-SUN"]["passed"] is False and by_id["TST-201"]["passed"] is True
    assert by_id["TRUTH-SUN"]["passed"] is None and by_id["TRUTH-SUN"]["explanation"].startswith("n/a")
    text = md.read_text()
    assert text.startswith("# IONIS verification: ionis_v22_gamma.safetensors") and "SIDECAR-SUN" in text


def test_group_filter_and_all_pass_exits_0(capsys, v22_file):
    code, out, _ = _run(capsys, "--checkpoint", v22_file, "--group", "physics", "--json")
    assert code == 0  # every physics test passes on V22
    assert {i["group"] for i in json.loads(out)} == {"physics"}
    code, out, _ = _run(capsys, "--checkpoint", v22_file, "--group", "physics")
    # TST-201, 202, 205 hold by construction: shown, not counted as evidence about the model
    assert code == 0 and "TST-206" in out and "passed 3 of 3 counted (3 by construction, not counted)" in out and "SIDECAR" not in out


def test_text_output_explains_failures(capsys, v20_file):
    code, out, _ = _run(capsys, "--checkpoint", v20_file, "--group", "sidecar")
    assert code == 1
    assert "SIDECAR-SUN: FAIL: sun sidecar DEAD" in out and "passed 1 of 2 counted (0 by construction, not counted)" in out


@pytest.mark.parametrize("args, message", [
    (["--checkpoint", "missing.safetensors"], "checkpoint not found"),
    (["--checkpoint", "{v22}", "--group", "vibes"], "unknown group 'vibes'"),
    (["--checkpoint", "{v22}", "--tests", "no-such-tests.toml"], "test file not found"),
    (["--checkpoint", "{junk}"], "cannot read checkpoint"),
])
def test_errors_exit_2_with_a_message(capsys, v22_file, tmp_path, args, message):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    args = [a.format(v22=v22_file, junk=junk) for a in args]
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--checkpoint", "x", "--truth", "maybe"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["verify"])  # --checkpoint is required
    assert exc.value.code == 2


def test_our_own_checkpoint_formats(capsys, tmp_path):
    import torch

    from engine.checkpoint import model_state, save_safetensors
    from engine.model import IonisGate

    torch.manual_seed(3)
    model = IonisGate("v22")
    best = save_safetensors(model, tmp_path / "run" / "best.safetensors", {"run_id": "run"})
    last = tmp_path / "run" / "last.pt"
    torch.save({"model": model_state(model), "meta": {"feature_set": "v22"}, "epoch": 1}, last)
    outs = []
    for path in (best, last):
        code, out, err = _run(capsys, "--checkpoint", path, "--json", "--group", "sidecar,robustness")
        items = json.loads(out)
        # Exit 0 exactly when every selected test passed, else 1.
        assert err == "" and code == (0 if all(i["passed"] for i in items) else 1)
        outs.append(items)
    # The same weights give the same verdicts whichever file they come from.
    assert [(i["id"], i["passed"], i["value_db"]) for i in outs[0]] == \
           [(i["id"], i["passed"], i["value_db"]) for i in outs[1]]
