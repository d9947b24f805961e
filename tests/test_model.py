"""IonisGate structure, sidecar physics constraints, and the published checkpoints."""

import json

import numpy as np
import pytest
import torch

from engine.checkpoint import from_live, load_model, save_safetensors
from engine.errors import CheckpointError
from engine.model import (
    IonisGate,
    MonotonicMLP,
    clamp_sidecars,
    gate,
    parameter_groups,
    pick_device,
)


def test_parameter_counts_match_the_reference():
    assert sum(p.numel() for p in IonisGate("v22").parameters()) == 205_621
    assert sum(p.numel() for p in IonisGate("v20").parameters()) == 203_573


def test_init_gates_start_at_one_and_the_sidecars_keep_the_published_layout():
    torch.manual_seed(0)
    m = IonisGate()
    x = torch.randn(64, 17)
    p = m.parts(x)
    torch.testing.assert_close(p["sun_gate"], torch.ones(64))
    torch.testing.assert_close(p["storm_gate"], torch.ones(64))
    for sc in m.sidecars().values():
        assert sc.fc1.bias.requires_grad is False
        assert torch.all(sc.fc1.bias == 0)
        assert sc.fc2.bias.requires_grad
        assert sc.fc1.weight.shape == (8, 1) and sc.fc2.weight.shape == (1, 8)
    assert all(t.dtype == torch.float32 for t in m.state_dict().values())


def test_gate_range():
    g = gate(torch.tensor([-1e4, -5.0, 0.0, 5.0, 1e4]))
    assert g.min() >= 0.5 and g.max() <= 2.0
    assert g[0].item() == pytest.approx(0.5) and g[-1].item() == pytest.approx(2.0)


def test_sidecar_is_monotonic_even_with_negative_weights():
    torch.manual_seed(1)
    sc = MonotonicMLP()
    with torch.no_grad():
        sc.fc1.weight.copy_(torch.randn(8, 1) * 3)   # signs must not matter: |W| is used
        sc.fc2.weight.copy_(torch.randn(1, 8) * 3)
        sc.fc1.bias.copy_(torch.randn(8))
    y = sc(torch.linspace(-1, 2, 500).unsqueeze(1)).squeeze(1)
    assert torch.all(y[1:] - y[:-1] >= -1e-6)


def test_output_is_monotonic_in_sfi_and_kp():
    torch.manual_seed(2)
    m = IonisGate()
    x = torch.randn(1, 17).repeat(50, 1)
    x[:, 15] = torch.linspace(50 / 300, 400 / 300, 50)
    out = m(x)
    assert torch.all(out[1:] >= out[:-1] - 1e-6)  # more sun never hurts
    x[:, 15] = 0.5
    x[:, 16] = 1 - torch.linspace(0, 9, 50) / 9
    out = m(x)
    assert torch.all(out[1:] <= out[:-1] + 1e-6)  # more storm never helps


def test_clamp_keeps_sidecar_weights_in_bounds():
    m = IonisGate()
    with torch.no_grad():
        m.sun_sidecar.fc1.weight.fill_(5.0)
        m.storm_sidecar.fc2.weight.fill_(-3.0)
    clamp_sidecars(m, 0.5, 2.0)
    assert m.sun_sidecar.fc1.weight.max().item() == 2.0
    assert m.storm_sidecar.fc2.weight.min().item() == 0.5


def test_frozen_bias_gets_no_update():
    m = IonisGate()
    groups = parameter_groups(m)
    ids = {id(p) for g in groups.values() for p in g}
    assert id(m.sun_sidecar.fc1.bias) not in ids and id(m.sun_sidecar.fc2.bias) in ids
    opt = torch.optim.AdamW([{"params": g} for g in groups.values()], lr=1e-2)
    before = m.sun_sidecar.fc1.bias.clone()
    m(torch.randn(32, 17)).pow(2).mean().backward()
    opt.step()
    torch.testing.assert_close(m.sun_sidecar.fc1.bias, before)


def test_pick_device_never_assumes_cuda():
    d = pick_device("auto")
    assert d.type in ("mps", "cuda", "cpu")
    if not torch.cuda.is_available():
        assert pick_device("cuda").type == "cpu"


@pytest.mark.parametrize("name,fs,trunk", [("v22_file", "v22", 15), ("v20_file", "v20", 11)])
def test_published_checkpoints_load_strictly(request, name, fs, trunk):
    lm = load_model(request.getfixturevalue(name))
    assert lm.kind == f"published-{fs}" and lm.feature_set.trunk_dim == trunk
    assert lm.model.trunk[0].weight.shape[1] == trunk
    # the published sun sidecar is dead: every weight at the 0.5 clamp floor
    w = torch.cat([lm.model.sun_sidecar.fc1.weight.flatten(), lm.model.sun_sidecar.fc2.weight.flatten()])
    assert torch.all((w - 0.5).abs() < 1e-6)
    assert lm.norm[107] == (-17.53, 6.7)


def test_published_dead_sun_sidecar_gives_the_floor_value(v22_file):
    # 8 * 0.5 * 0.5 * (softplus(0.5*200/300) - softplus(0.5*70/300)) = 0.4818 (reference doc section 7)
    lm = load_model(v22_file)
    sc = lm.model.sun_sidecar
    with torch.no_grad():
        d = (sc(torch.tensor([[200 / 300]])) - sc(torch.tensor([[70 / 300]]))).item()
    assert d == pytest.approx(0.4818, abs=1e-4)


def test_own_checkpoint_roundtrip_records_feature_set_and_norm(tmp_path):
    m = IonisGate("v20")
    p = save_safetensors(m, tmp_path / "best.safetensors", {"epoch": 3, "val_pearson": 0.5})
    lm = load_model(p)
    assert lm.kind == "ionis-tui" and lm.feature_set.name == "v20"
    assert json.loads(lm.meta["epoch"]) == 3
    x = torch.randn(8, 13)
    torch.testing.assert_close(lm.model(x), m.eval()(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_from_live_is_a_detached_copy():
    m = IonisGate()
    lm = from_live(m)
    with torch.no_grad():
        lm.model.trunk[0].weight.add_(1.0)
    assert not torch.equal(lm.model.trunk[0].weight, m.trunk[0].weight)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_model(junk)
    pt = tmp_path / "junk.pt"
    pt.write_bytes(np.arange(10).tobytes())
    with pytest.raises(CheckpointError):
        load_model(pt)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="no 'model'"):
        load_model(other)


def test_checkpoints_carry_the_model_config(tmp_path):
    # A non-default architecture reloads from the stored config, not from a guess by width.
    import json as _json

    from engine.checkpoint import _safetensors_metadata, load_model, save_safetensors
    from engine.model import IonisGate

    model = IonisGate("v20", sidecar_hidden=4)
    path = save_safetensors(model, tmp_path / "small.safetensors")
    config = _json.loads(_safetensors_metadata(path)["model_config"])
    assert config == {"feature_set": "v20", "trunk_dim": 11, "sidecar_hidden": 4}
    lm = load_model(path)
    assert lm.feature_set.name == "v20" and lm.model.sun_sidecar.fc1.out_features == 4


def test_a_runs_checkpoint_label_names_its_run(tmp_path):
    """Every run has a best.safetensors: the label says which run it is."""
    from engine.checkpoint import load_model, save_safetensors
    from engine.model import IonisGate

    path = save_safetensors(IonisGate("v22"), tmp_path / "20261129-040000-v22" / "best.safetensors")
    assert load_model(path).label == "20261129-040000-v22/best.safetensors (ionis-tui, v22)"
