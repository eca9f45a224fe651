"""``hmrflow render``: synthetic images of people, as a contact sheet or as training shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from hmrflow.folders import output_file, output_folder

HELP = """\
Render synthetic images of people (headless: moderngl on EGL, the CPU is enough).

Each image is an example of the synthetic keypoint data (pose, shape, camera, 2D and 3D
keypoints) rendered with its own camera: the body with a random skin tone and clothing,
a random light, over a crop of a bundled public-domain photo or a procedural texture.

  hmrflow render sheet sheet.png                 16 images with their keypoints drawn
  hmrflow render images data/synth --num 20000 --workers 2
                                                 training shards (tar of JPEGs + labels)

Read shards back with hmrflow.data.image_shards.SyntheticImageDataset (ProHMR-format
crops and augmentation) or ImageShards (raw images and every label).
Needs the render extra: pip install 'hmrflow[render]'.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render synthetic images (a contact sheet or training shards)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="what to render", metavar="WHAT", dest="action")

    sheet = commands.add_parser(
        "sheet",
        help="a sheet of synthetic images with their keypoints drawn",
        description="Write a grid of synthetic images (the stored training images) with their "
        "true 2D keypoints and skeleton drawn: left side blue, right side red.",
    )
    sheet.add_argument("output", help="image file to write (.png or .jpg)")
    sheet.add_argument("--count", type=int, default=16, help="number of images (default 16)")
    sheet.add_argument("--columns", type=int, default=4, help="images per row (default 4)")
    _common(sheet, resolution=256)
    sheet.add_argument("--no-keypoints", action="store_true", help="do not draw the keypoints")
    sheet.set_defaults(func=run_sheet)

    images = commands.add_parser(
        "images",
        help="generate synthetic training images as shards",
        description="Generate synthetic images into a folder: index.json, shard-NNNNNN.tar "
        "(JPEGs) and shard-NNNNNN.npz (labels). Shard i depends only on the seed and the "
        "settings, not on the number of workers.",
    )
    images.add_argument("output", help="folder to write")
    images.add_argument("--num", type=int, default=1000, help="number of images (default 1000)")
    images.add_argument("--shard-size", type=int, default=256, help="images per shard (default 256)")
    images.add_argument("--workers", type=int, default=0, help="worker processes (default 0: this one)")
    images.add_argument("--part-labels", action="store_true", help="also store part-label images")
    _common(images, resolution=320)
    images.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    images.set_defaults(func=run_images)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _common(parser: argparse.ArgumentParser, resolution: int) -> None:
    parser.add_argument("--body", default="anny", help="body model: anny (default), anny_lowpoly or a file")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--resolution", type=int, default=resolution, help=f"image side in px (default {resolution})")


def _config(args: argparse.Namespace, **extra: object):
    from hmrflow.data.synthetic_images import SyntheticImageConfig

    return SyntheticImageConfig(resolution=args.resolution, **extra)  # type: ignore[arg-type]


def run_sheet(args: argparse.Namespace) -> int:
    import torch

    from hmrflow.data.image_shards import _load_body
    from hmrflow.data.pose_sources import load_cmu_demo
    from hmrflow.data.synthetic_images import SyntheticImages
    from hmrflow.render.figures import image_grid, save_image
    from hmrflow.render.overlay import draw_keypoints

    output_file(Path(args.output))
    with SyntheticImages(_load_body(args.body), load_cmu_demo().rotmats, _config(args)) as generator:
        examples = generator.sample(args.count, torch.Generator().manual_seed(args.seed))
        names = generator.names
    images = [
        e.image if args.no_keypoints else draw_keypoints(e.image, e.labels["clean_2d"], names) for e in examples
    ]
    save_image(image_grid(images, args.columns), args.output)
    print(f"{len(images)} synthetic images written to {args.output}")
    return 0


def run_images(args: argparse.Namespace) -> int:
    from hmrflow.data.image_shards import generate_shards

    output_folder(Path(args.output), "OUTPUT")
    results = generate_shards(
        args.output,
        args.num,
        body=args.body,
        config=_config(args, part_labels=args.part_labels),
        seed=args.seed,
        shard_size=args.shard_size,
        workers=args.workers,
        progress=not args.no_progress,
    )
    seconds = sum(r.seconds for r in results)
    print(f"{args.num} synthetic images in {len(results)} shards written to {args.output} "
          f"(index.json; {args.num / max(seconds, 1e-9):.1f} images/s per process)")  # fmt: skip
    return 0
