"""Make the example queue's images (small JPEGs) with Pillow: `python tools/make_example_media.py`.

The images are committed; this script shows how they were made and remakes them.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "queue" / "media"
NAVY = (16, 42, 84)
WHITE = (255, 255, 255)
GOLD = (244, 196, 48)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

CARDS = {
    # name: (size, background, lines as (text, font size, colour))
    "safer-streets-funding.jpg": (
        (1080, 1080),
        NAVY,
        [
            ("Safer Streets", 110, GOLD),
            ("£1.4 million", 150, WHITE),
            ("for safer town centres", 64, WHITE),
            ("in Kent and Medway", 64, WHITE),
        ],
    ),
    "safer-streets-towns.jpg": (
        (1200, 675),
        (20, 90, 70),
        [
            ("Where the money goes", 72, WHITE),
            ("Maidstone · Canterbury", 60, GOLD),
            ("Rochester and Chatham · Gravesham", 52, GOLD),
            ("CCTV · street lighting · Safe Spaces", 44, WHITE),
        ],
    ),
    "vawg-report.jpg": (
        (1080, 1080),
        (90, 30, 90),
        [
            ("Violence Against", 84, WHITE),
            ("Women and Girls", 84, WHITE),
            ("Inquiry: final report", 72, GOLD),
            ("49,000+ male offenders", 56, WHITE),
            ("56,300+ victims", 56, WHITE),
            ("April 2017 to March 2022", 48, WHITE),
        ],
    ),
    "victims-survey.jpg": (
        (1080, 1350),
        NAVY,
        [
            ("Holding the system", 80, WHITE),
            ("to account", 80, WHITE),
            ("Twice-yearly audit", 64, GOLD),
            ("of criminal justice agencies", 52, WHITE),
            ("Independent victims'", 64, GOLD),
            ("satisfaction survey", 64, GOLD),
        ],
    ),
    "county-show-stand.jpg": (
        (1080, 1080),
        (30, 110, 160),
        [
            ("Thank you!", 130, WHITE),
            ("Kent Police Open Days", 64, GOLD),
            ("and the County Show", 64, GOLD),
            ("Thousands visited our stand", 52, WHITE),
        ],
    ),
}


def load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed (it has £ and –), else Pillow's own font."""
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size)


def card(size: tuple[int, int], background: tuple[int, int, int], lines: list) -> Image.Image:
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    fonts = [load_font(font_size) for _, font_size, _ in lines]
    heights = [
        draw.textbbox((0, 0), text, font=f)[3]
        for (text, _, _), f in zip(lines, fonts, strict=False)
    ]
    gap = 30
    y = (size[1] - sum(heights) - gap * (len(lines) - 1)) // 2
    for (text, _, colour), font, height in zip(lines, fonts, heights, strict=False):
        width = draw.textlength(text, font=font)
        draw.text(((size[0] - width) / 2, y), text, font=font, fill=colour)
        y += height + gap
    draw.rectangle([0, size[1] - 24, size[0], size[1]], fill=GOLD)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (size, background, lines) in CARDS.items():
        card(size, background, lines).save(OUT / name, "JPEG", quality=70, optimize=True)
        print(OUT / name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
