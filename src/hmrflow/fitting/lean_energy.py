r"""The learned-prior energy without the work that does not change between evaluations.

Fitting evaluates one energy hundreds of times with the model frozen and the contexts
fixed, so everything that depends on the weights and the contexts alone is computed
once per fit (DESIGN.md 8 states the energy; this module only evaluates it faster):

* the flow's decoding ``z -> x`` with its weights folded for the contexts
  (:class:`~hmrflow.flows.frozen.FrozenDecoder`, reached through
  :meth:`~hmrflow.models.ProbabilisticHMR.latent_decoder`);
* :class:`KeypointProjector` -- the body's keypoints, projected, without vertices: every
  keypoint is a fixed combination of skinned vertices and joints, so it is
  ``sum_j [R_j | p_j] [m_kj(betas, pose) - g_kj rest_j(betas); g'_kj]`` over the world
  transforms ``[R_j | p_j]`` of forward kinematics, with ``m``, ``g``, ``g'`` folded once
  from the skinning weights, the template and the blend shapes restricted to the vertices
  the keypoints use (one matrix product per evaluation instead of skinning them).
* :class:`KeypointTerm` -- the robust reprojection term with the detections' weights
  (confidence, image scale, Geman-McClure scale, missing points) prepared once.

All are tested against the plain path (value and gradient) in
``tests/fitting/test_lean_energy.py``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hmrflow.body import BodyModel

__all__ = ["KeypointProjector", "KeypointTerm", "rotmats_from_sixd"]


def rotmats_from_sixd(x: Tensor) -> Tensor:
    r"""``(..., J * 6)`` 6D (first two columns) -> ``(..., J, 3, 3)`` by Gram-Schmidt.

    :func:`~hmrflow.geometry.sixd_to_rotmat` of ``x.unflatten(-1, (-1, 6))`` in fewer
    operations (to float rounding).
    """
    x = x.unflatten(-1, (-1, 2, 3))
    first, second = x[..., 0, :], x[..., 1, :]
    first = first / torch.linalg.vector_norm(first, dim=-1, keepdim=True)
    second = torch.addcmul(second, first, (first * second).sum(-1, keepdim=True), value=-1)
    second = second / torch.linalg.vector_norm(second, dim=-1, keepdim=True)
    return torch.stack((first, second, torch.linalg.cross(first, second, dim=-1)), dim=-1)


def _tree_levels(parents: tuple[int, ...]) -> list[list[int]]:
    """Joints grouped by depth in the tree (root level first)."""
    depth: list[int] = []
    for parent in parents:
        depth.append(0 if parent < 0 else depth[parent] + 1)
    return [[j for j, d in enumerate(depth) if d == level] for level in range(max(depth) + 1)]


class KeypointProjector:
    r"""A body model's keypoints (some sets, concatenated), posed and projected.

    Equal to :func:`~hmrflow.fitting.keypoint_fit.project_keypoints` to float rounding
    (pose blend shapes included, any number ``S' <= S`` of betas). The body's arrays are
    read once: build a new projector when the body model changes.

    Arguments:
        body: The :class:`~hmrflow.body.BodyModel`.
        sets: Names of its keypoint sets, concatenated in this order (K points in all).
        focal_length: ``(B, 2)`` ``(f_x, f_y)`` px, or ``(B,)`` for ``f_x = f_y``;
            principal_point: ``(B, 2)`` px.
    """

    def __init__(self, body: BodyModel, sets: tuple[str, ...], focal_length: Tensor, principal_point: Tensor):
        self.num_joints = body.num_joints
        self.focal_length = focal_length[:, None] if focal_length.dim() == 2 else focal_length[:, None, None]
        self.principal_point = principal_point[:, None]
        with torch.no_grad():
            self._fold_rest_joints(body)
            self._fold_keypoints(body, sets)
        self._plan_kinematics(body)

    def _plan_kinematics(self, body: BodyModel) -> None:
        """Forward kinematics by depth: the joints' order, each level's parents, constants."""
        J, device = body.num_joints, body.template.device
        relative = torch.eye(J, dtype=body.template.dtype, device=device)
        for j, parent in enumerate(body.parents):
            if parent >= 0:
                relative[j, parent] = -1.0
        self.relative = relative  # (J, J): rest offsets from the parents
        self.bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=body.template.dtype, device=device)
        levels = _tree_levels(body.parents)
        order = [j for level in levels for j in level]
        self.order = None if order == list(range(J)) else torch.tensor(order, device=device)
        self.inverse_order = None if self.order is None else torch.argsort(self.order)
        position = {j: i for level in levels for i, j in enumerate(level)}
        self.levels = [(len(level), torch.tensor([position[body.parents[j]] for j in level], device=device))
                       for level in levels[1:]]  # fmt: skip
        self.root_size = len(levels[0])

    def _fold_rest_joints(self, body: BodyModel) -> None:
        """Rest joints as ``rest4 = base + betas @ shape``, ``(B, J, 4)`` (4th coordinate 0)."""
        J, N, S = body.num_joints, body.num_vertices, body.num_betas
        regressor = body.joint_regressor.double()
        base = regressor @ body.template.double()  # (J, 3)
        shape = (regressor @ body.shapedirs.double().reshape(N, 3 * S)).view(J, 3, S)
        self.rest_base = torch.cat([base, base.new_zeros(J, 1)], -1).reshape(-1).to(body.template)
        shape4 = torch.cat([shape, shape.new_zeros(J, 1, S)], 1)  # (J, 4, S)
        self.rest_shape = shape4.permute(2, 0, 1).reshape(S, 4 * J).to(body.template)

    def _fold_keypoints(self, body: BodyModel, sets: tuple[str, ...]) -> None:
        """``m`` (base, shape and pose parts), ``g`` and ``g'`` of the module docstring."""
        keypoint_sets = body.keypoint_sets
        vertex_weights = torch.cat([keypoint_sets[name].vertex_weights for name in sets]).double()
        joint_weights = torch.cat([keypoint_sets[name].joint_weights for name in sets]).double()
        support = (vertex_weights != 0).any(0).nonzero().squeeze(1)
        mix = vertex_weights[:, support, None] * body.weights.double()[support]  # (K, L, J)
        joint_mix = mix.sum(1)  # (K, J): g
        base = torch.einsum("klj,lx->kjx", mix, body.template.double()[support])
        base = torch.cat([base, (joint_mix + joint_weights)[..., None]], -1)  # (K, J, 4)
        self.mix = joint_mix[..., None].to(body.template)  # (K, J, 1)
        self.keypoint_base = base.reshape(-1).to(body.template)

        def blend(directions: Tensor) -> Tensor:  # (N, 3, P) -> (P, K J 4), 4th coordinate 0
            part = torch.einsum("klj,lxp->pkjx", mix, directions.double()[support])
            part = torch.cat([part, part.new_zeros(*part.shape[:-1], 1)], -1)
            return part.reshape(part.shape[0], -1).to(body.template)

        self.keypoint_shape = blend(body.shapedirs)
        self.keypoint_pose = blend(body.posedirs) if bool(body.posedirs.any()) else None
        self.num_keypoints = vertex_weights.shape[0]

    def _forward_kinematics(self, rotmats: Tensor, rest: Tensor) -> Tensor:
        """World transforms ``(B, J, 4, 4)`` of local rotations ``(B, J, 3, 3)``, rest joints ``(B, J, 3)``."""
        B, J = rotmats.shape[:2]
        offsets = torch.matmul(self.relative, rest)  # (B, J, 3)
        local = torch.cat([torch.cat([rotmats, offsets[..., None]], -1), self.bottom.expand(B, J, 1, 4)], -2)
        if self.order is not None:
            local = local[:, self.order]
        world = [local[:, : self.root_size]]
        start = self.root_size
        for size, parents in self.levels:
            world.append(world[-1].index_select(1, parents) @ local[:, start : start + size])
            start += size
        transforms = torch.cat(world, 1)
        return transforms if self.inverse_order is None else transforms[:, self.inverse_order]

    def __call__(self, rotmats: Tensor, betas: Tensor, translation: Tensor) -> Tensor:
        r"""``rotmats (B, J, 3, 3)``, ``betas (B, S')``, ``translation (B, 3)`` -> ``(B, K, 2)`` px."""
        return self.project(self.points(rotmats, betas, translation))

    def project(self, points: Tensor) -> Tensor:
        r"""Camera-frame points ``(B, K, 3)`` -> ``(B, K, 2)`` px."""
        return torch.addcmul(self.principal_point, points[..., :2] / points[..., 2:], self.focal_length)

    def points(self, rotmats: Tensor, betas: Tensor, translation: Tensor) -> Tensor:
        r"""The keypoints in the camera frame, ``(B, K, 3)`` metres (arguments as for calling it)."""
        B, J, S = rotmats.shape[0], self.num_joints, betas.shape[-1]
        rest = torch.addmm(self.rest_base, betas, self.rest_shape[:S]).view(B, J, 4)
        world = self._forward_kinematics(rotmats, rest[..., :3])
        affine = world[..., :3, :].transpose(-1, -2).reshape(B, 4 * J, 3)  # rows (j, column)
        weights = torch.addmm(self.keypoint_base, betas, self.keypoint_shape[:S])
        if self.keypoint_pose is not None:
            identity = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
            pose_feature = (rotmats[:, 1:] - identity).reshape(B, -1)
            weights = torch.addmm(weights, pose_feature, self.keypoint_pose)
        weights = torch.addcmul(weights.view(B, -1, J, 4), self.mix, rest[:, None], value=-1)
        return torch.bmm(weights.view(B, -1, 4 * J), affine) + translation[:, None]


class KeypointTerm:
    r"""The robust reprojection energy of fixed detections, weights prepared once.

    ``E = (1000 / max(W, H))^2 sum_k c_k^2 sum_xy rho(proj_k - x_k)`` per person, rho the
    Geman-McClure function (:func:`~hmrflow.fitting.robust.reprojection_energy`, to float
    rounding, for finite projections).

    Arguments:
        keypoints: ``(B, K, 3)`` detections, px and confidence (0 = missing: any coordinates).
        image_size: ``(B, 2)`` (W, H) px.
        sigma: Geman-McClure scale, px.
    """

    def __init__(self, keypoints: Tensor, image_size: Tensor, sigma: float = 100.0):
        confidence = keypoints[..., 2]
        valid = confidence > 0
        self.sigma2 = float(sigma) ** 2
        self.targets = torch.where(valid[..., None], keypoints[..., :2], torch.zeros_like(keypoints[..., :2]))
        scale = (1000.0 / image_size.amax(-1)).square()
        weights = torch.where(valid, scale[..., None] * confidence.square(), torch.zeros_like(confidence))
        self.weights = (self.sigma2 * weights)[..., None].contiguous()  # (B, K, 1)

    def __call__(self, projected: Tensor) -> Tensor:
        r"""``(B, K, 2)`` px -> ``(B,)`` energies."""
        squared = (projected - self.targets).square()
        rho = squared / (squared + self.sigma2)
        return (rho * self.weights).sum((-1, -2))
