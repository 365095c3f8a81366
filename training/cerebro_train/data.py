"""`data`: download (explicitly, cached) and build the training and evaluation manifests.

    python3 -m cerebro_train data [--data-dir training/data]

Downloads happen here and only here, with the ordinary clients: `npm pack` for the
emoji packages, `apt-get download` for the Debian data packages; both are cached in
DATA/downloads and reused. CIFAR-10 is given with --cifar10 or $CEREBRO_CIFAR10
(paths.CIFAR10_HELP; extracted once into DATA/images/cifar10). Output:

| manifest | what | used for |
|---|---|---|
| google-emoji.jsonl | Google (Noto) emoji, names/short names/categories as captions | training |
| openmoji.jsonl | OpenMoji SVGs rasterised with rsvg-convert, annotation + tags | training |
| fluent-emoji.jsonl, emojione.jsonl, noto-v1-emoji.jsonl | three more emoji styles (Iconify's SVG sets of Microsoft Fluent Emoji flat, EmojiOne 2, Noto Emoji v1), base emoji only, the Google records' captions | training |
| tuxpaint.jsonl | Tux Paint stamps, English caption line + file/folder names | training |
| openclipart.jsonl | Openclipart PNGs, file and folder names | training |
| cifar-vehicles.jsonl | CIFAR-10 airplane/automobile/ship/truck, "a photo of a truck"... | training |
| cifar-seed.jsonl | 50 captioned photos per animal class (bird cat deer dog frog horse) | training |
| cifar-val.jsonl | 500 per animal class, with `label` | evaluation only |
| cifar-pool.jsonl | the other animal photos, no captions, no labels | pseudo-labelling |
| cifar-pool-labels.json | the pool's hidden labels | reporting pseudo-label accuracy only |
| twitter-emoji.jsonl | Twitter emoji (all base emoji), name as caption, `heldout` flag | evaluation only |
| heldout-emoji.json | emoji (10%) kept out of every training source | evaluation |
| vocabulary.json | the six classes + emoji animal names as distractors | pseudo-labelling |

The held-out emoji are excluded from every emoji style's training records by code point.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set

from .captions import WordNetCaptions, enrich, wordnet_reader
from .manifest import Record, write_json, write_manifest
from .paths import CIFAR10_HELP, CIFAR10_SHA256, cifar10_source, default_data_dir

GOOGLE_EMOJI = "emoji-datasource-google@16.0.0"
TWITTER_EMOJI = "emoji-datasource-twitter@16.0.0"
OPENMOJI = "openmoji@17.0.0"
# Iconify's emoji sets (npm): SVG bodies in icons.json. Fluent's chars.json maps code points
# to icon names; the other sets use the same names (CLDR short names as slugs).
ICONIFY_STYLES = {"fluent-emoji": "@iconify-json/fluent-emoji-flat@1.2.6",
                  "emojione": "@iconify-json/emojione@1.2.3",
                  "noto-v1-emoji": "@iconify-json/noto-v1@1.2.5"}
TUXPAINT = "tuxpaint-stamps-default"
OPENCLIPART = "openclipart-png"
# What `data` builds unless told otherwise: everything the default model trains on.
DEFAULT_SOURCES = ("google", "twitter", "openmoji", *ICONIFY_STYLES, "tuxpaint", "openclipart",
                   "cifar")

ANIMALS = ["bird", "cat", "deer", "dog", "frog", "horse"]
VEHICLES = ["airplane", "automobile", "ship", "truck"]
# What a caption calls each CIFAR class (several names where people use several).
CLASS_NAMES = {"airplane": ["airplane", "plane", "aeroplane"],
               "automobile": ["car", "automobile"], "ship": ["ship", "boat"],
               "truck": ["truck", "lorry"]}
TEMPLATES = ["a photo of a {}.", "a photo of the {}.", "a {}.", "a blurry photo of a {}.",
             "a low resolution photo of a {}.", "a close-up photo of a {}.",
             "a photo of a small {}.", "a photo of a big {}.", "a cropped photo of a {}.",
             "a picture of a {}."]
PROMPT = "a photo of a {}."
# Kinds of the six classes in the emoji animal list: they are not distractors.
NOT_DISTRACTORS = {"poodle", "service dog", "guide dog", "baby chick", "hatching chick",
                   "front-facing baby chick", "phoenix", "rooster", "chicken", "unicorn face",
                   "paw prints", "feather", "wing", "spider web", "spiral shell", "pig nose"}
ANIMAL_SUBCATEGORIES = ("animal-mammal", "animal-bird", "animal-marine", "animal-bug",
                        "animal-reptile", "animal-amphibian")
SKIN_TONES = {"1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium",
              "1F3FE": "medium-dark", "1F3FF": "dark"}

LICENCES = {"google-emoji": "Apache-2.0", "twitter-emoji": "CC-BY-4.0",
            "openmoji": "CC-BY-SA-4.0", "tuxpaint": "GPL-2",
            "fluent-emoji": "MIT", "emojione": "CC-BY-4.0", "noto-v1-emoji": "Apache-2.0",
            "openclipart": "public domain (Openclipart dedication)",
            "cifar10": "CIFAR-10 terms (research use)"}


def with_articles(text: str) -> str:
    """'a airplane' -> 'an airplane'."""
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def class_captions(name: str) -> List[str]:
    return [with_articles(template.format(name)) for template in TEMPLATES]


def prompt(name: str) -> str:
    return with_articles(PROMPT.format(name))


# ---- downloads -------------------------------------------------------------------------

def npm_pack(spec: str, downloads: Path) -> Path:
    """`npm pack SPEC` into downloads (once); returns the tarball."""
    name, version = spec.rsplit("@", 1)
    # npm names a scoped package's tarball @scope/name -> scope-name-VERSION.tgz
    tarball = downloads / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tarball.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        print(f"data: npm pack {spec}", flush=True)
        subprocess.run(["npm", "pack", spec, "--silent"], cwd=downloads, check=True,
                       stdout=subprocess.DEVNULL)
    return tarball


def apt_download(package: str, downloads: Path) -> Path:
    """`apt-get download PACKAGE` into downloads (once); returns the .deb."""
    debs = sorted(downloads.glob(f"{package}_*.deb"))
    if not debs:
        downloads.mkdir(parents=True, exist_ok=True)
        print(f"data: apt-get download {package}", flush=True)
        subprocess.run(["apt-get", "download", package], cwd=downloads, check=True)
        debs = sorted(downloads.glob(f"{package}_*.deb"))
    return debs[-1]


def extracted(archive: Path, extract_root: Path, name: str) -> Path:
    """Unpack a .tgz or .deb once into extract_root/name (a marker says it finished)."""
    target = extract_root / name
    marker = target / ".complete"
    if marker.is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".deb":
        subprocess.run(["dpkg-deb", "-x", str(archive), str(target)], check=True)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(target)
    marker.write_text(archive.name + "\n")
    return target


# ---- emoji -------------------------------------------------------------------------------

def normal_code(code: str) -> str:
    """Code point sequence without variation selectors, upper case: '1F600', '1F1EA-1F1EC'."""
    parts = [p for p in code.upper().split("-") if p and p != "FE0F"]
    return "-".join(parts)


def heldout_codes(emoji: Sequence[Dict], fraction: float = 0.1) -> Set[str]:
    """A fixed pseudo-random 10% of base emoji (by a hash of the code point)."""
    keep = set()
    for entry in emoji:
        code = normal_code(entry["unified"])
        if int(hashlib.sha1(code.encode()).hexdigest()[:8], 16) < fraction * 2 ** 32:
            keep.add(code)
    return keep


def words(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_\-:]+", " ", text)).strip().lower()


def emoji_captions(entry: Dict) -> List[str]:
    name = (entry.get("name") or entry["short_name"]).lower()
    captions = [name, f"{name} emoji"]
    for short in entry.get("short_names") or []:
        text = words(short)
        if text and text not in captions:
            captions.append(text)
    for keyword in entry.get("keywords") or []:
        captions.append(f"{name}, {keyword}")
    captions.append(f"{name}, {words(entry['subcategory'])}, {entry['category'].lower()}")
    return captions


def emoji_records(package: Path, style: str, heldout: Set[str], training: bool
                  ) -> List[Record]:
    """Base emoji (and, for training, skin-tone variants) of one emoji-datasource style."""
    root = package / "package"
    entries = json.loads((root / "emoji.json").read_text(encoding="utf-8"))
    images = root / "img" / style / "64"
    source = f"{style}-emoji"
    records: List[Record] = []
    for entry in sorted(entries, key=lambda e: e["sort_order"]):
        code = normal_code(entry["unified"])
        if not entry.get(f"has_img_{style}", True) or not (images / entry["image"]).is_file():
            continue
        if training and code in heldout:
            continue
        captions = emoji_captions(entry)
        base = {"source": source, "licence": LICENCES[source], "id": code}
        group = {"group": f"emoji:{code}"}
        if not training:
            records.append({"image": str(images / entry["image"]), "captions": captions[:1],
                            "heldout": code in heldout, "subcategory": entry["subcategory"],
                            **base})
            continue
        records.append({"image": str(images / entry["image"]), "captions": captions, **base,
                        **group})
        for tones, variant in (entry.get("skin_variations") or {}).items():
            if not variant.get(f"has_img_{style}", True) or not (images / variant["image"]).is_file():
                continue
            tone = ", ".join(f"{SKIN_TONES.get(t, t)} skin tone" for t in tones.split("-"))
            records.append({"image": str(images / variant["image"]),
                            "captions": [f"{c}: {tone}" for c in captions[:2]] + captions[2:],
                            **base, "id": normal_code(variant["unified"]),
                            "group": "emoji:" + normal_code(variant["unified"])})
    return records


def rasterise(svg: Path, png: Path, size: int = 128) -> None:
    if png.is_file():
        return
    tmp = png.with_name(png.name + ".tmp.png")
    subprocess.run(["rsvg-convert", "-w", str(size), "-h", str(size), "-o", str(tmp), str(svg)],
                   check=True)
    os.replace(tmp, png)


def openmoji_records(package: Path, out_dir: Path, heldout: Set[str], workers: int = 2
                     ) -> List[Record]:
    root = package / "package"
    entries = json.loads((root / "data" / "openmoji.json").read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs, records = [], []
    for entry in entries:
        code = normal_code(entry["hexcode"])
        base_code = normal_code(entry.get("skintone_base_hexcode") or entry["hexcode"])
        if code in heldout or base_code in heldout:
            continue
        svg = root / "color" / "svg" / f"{entry['hexcode']}.svg"
        if not svg.is_file():
            continue
        png = out_dir / f"{entry['hexcode']}.png"
        jobs.append((svg, png))
        name = entry["annotation"].lower()
        tags = [t.strip() for t in (entry.get("tags", "") + "," + entry.get("openmoji_tags", ""))
                .split(",") if t.strip()]
        captions = [name, f"{name} icon"]
        if tags:
            captions.append(f"{name}, {', '.join(tags[:8])}")
        captions.append(f"{name}, {words(entry.get('subgroups', ''))}")
        records.append({"image": str(png), "captions": captions, "source": "openmoji",
                        "licence": LICENCES["openmoji"], "id": code, "group": f"emoji:{code}"})
    print(f"data: rasterising {len(jobs)} OpenMoji SVGs with rsvg-convert", flush=True)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda job: rasterise(*job), jobs))
    return records


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def iconify_codes(fluent: Path, google_entries: Sequence[Dict]) -> Dict[str, str]:
    """Icon name -> normalised code point, from Fluent's chars.json and the Google
    datasource's names and short names (slugged as Iconify names its icons)."""
    chars = json.loads((fluent / "package" / "chars.json").read_text(encoding="utf-8"))
    codes = {name: normal_code(code) for code, name in sorted(chars.items())}
    for entry in google_entries:
        for name in [entry.get("name") or ""] + list(entry.get("short_names") or []):
            if name:
                codes.setdefault(slug(name), normal_code(entry["unified"]))
    return codes


def iconify_records(package: Path, source: str, out_dir: Path, codes: Dict[str, str],
                    google_entries: Sequence[Dict], heldout: Set[str], workers: int = 2
                    ) -> List[Record]:
    """The base emoji of one Iconify emoji set, rasterised at 128 px, with the captions
    of the same emoji's Google record (so every style is named alike); icons whose code
    point is unknown or held out are left out."""
    root = package / "package"
    data = json.loads((root / "icons.json").read_text(encoding="utf-8"))
    base = {normal_code(e["unified"]): e for e in google_entries}
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs, records, seen = [], [], set()
    for name, icon in sorted(data["icons"].items()):
        code = codes.get(name)
        if code is None or code not in base or code in heldout or code in seen:
            continue
        seen.add(code)
        w, h = icon.get("width", data.get("width", 16)), icon.get("height", data.get("height", 16))
        left, top = icon.get("left", data.get("left", 0)), icon.get("top", data.get("top", 0))
        svg, png = out_dir / f"{code}.svg", out_dir / f"{code}.png"
        if not svg.is_file():
            svg.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" '
                           f'xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" '
                           f'height="{h}" viewBox="{left} {top} {w} {h}">{icon["body"]}</svg>',
                           encoding="utf-8")
        jobs.append((svg, png))
        records.append({"image": str(png), "captions": emoji_captions(base[code]),
                        "source": source, "licence": LICENCES[source], "id": code,
                        "group": f"emoji:{code}"})
    print(f"data: rasterising {len(jobs)} {source} SVGs with rsvg-convert", flush=True)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda job: rasterise(*job), jobs))
    return records


# ---- Debian packages --------------------------------------------------------------------

# libcerebro's default image limit (cerebro_image_options: 100 MP); larger files are
# refused by the library, so they are not training data either.
LIBRARY_MAX_PIXELS = 100_000_000


def library_accepts(path: Path) -> bool:
    import warnings

    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return False
    return width * height <= LIBRARY_MAX_PIXELS


def tuxpaint_records(package: Path) -> List[Record]:
    root = package / "usr" / "share" / "tuxpaint" / "stamps"
    records = []
    for png in sorted(root.rglob("*.png")):
        if not library_accepts(png):
            continue
        folders = words(" ".join(png.relative_to(root).parent.parts))
        name = words(re.sub(r"\d+", " ", png.stem))
        captions = []
        txt = png.with_suffix(".txt")
        if txt.is_file():
            first = txt.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].strip()
            if first and "=" not in first:
                captions.append(first.rstrip(".").lower())
        captions += [name, f"{name}, {folders}"]
        records.append({"image": str(png), "captions": [c for c in captions if c],
                        "source": "tuxpaint", "licence": LICENCES["tuxpaint"], "name": name,
                        "id": str(png.relative_to(root))})
    return records


def openclipart_records(package: Path) -> List[Record]:
    root = package / "usr" / "share" / "openclipart" / "png"
    records = []
    for png in sorted(root.rglob("*.png")):
        folders = words(" ".join(png.relative_to(root).parent.parts))
        name = words(re.sub(r"\d+", " ", png.stem))
        if not name or not library_accepts(png):
            continue
        records.append({"image": str(png), "captions": [name, f"{name}, {folders}",
                                                        f"clip art of {name}"],
                        "source": "openclipart", "licence": LICENCES["openclipart"],
                        "id": str(png.relative_to(root))})
    return records


# ---- CIFAR-10 ----------------------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cifar_files(source: Optional[Path], out_dir: Path) -> Dict[str, List[Path]]:
    """CIFAR-10's training images per class, in numeric order. `source` is the
    cifar10-train.tar.gz (extracted once into out_dir) or a folder with train/<class>/*.jpg;
    it may be None once out_dir holds a complete extraction."""
    marker = out_dir / ".complete"
    if source is not None and source.is_dir():
        root = source / "train" if (source / "train").is_dir() else source
    elif marker.is_file():
        root = out_dir
    elif source is None or not source.is_file():
        raise ValueError(f"CIFAR-10 not found ({source or 'not given'}): {CIFAR10_HELP}")
    else:
        if sha256_of(source) != CIFAR10_SHA256:
            print(f"data: warning: {source} is not the archive the default model was trained "
                  f"on (sha256 {CIFAR10_SHA256[:12]}...); results will differ", flush=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"data: extracting {source}", flush=True)
        with tarfile.open(source) as tar:
            tar.extractall(out_dir)
        marker.write_text(source.name + "\n")
        root = out_dir
    files: Dict[str, List[Path]] = {}
    for jpg in root.rglob("*.jpg"):
        files.setdefault(jpg.parent.name, []).append(jpg)
    for name in files:
        files[name].sort(key=lambda p: (len(p.stem), p.stem))
    missing = set(ANIMALS + VEHICLES) - set(files)
    if missing:
        raise ValueError(f"{source or out_dir}: no images for classes {sorted(missing)}")
    return files


def cifar_splits(files: Dict[str, List[Path]], seed_per_class: int, val_per_class: int,
                 vehicles_per_class: int, seed: int = 0) -> Dict[str, List[Record]]:
    rng = random.Random(seed)
    licence = LICENCES["cifar10"]
    splits: Dict[str, List[Record]] = {"vehicles": [], "seed": [], "val": [], "pool": []}
    pool_labels: List[str] = []
    for name in VEHICLES:
        chosen = list(files[name])
        rng.shuffle(chosen)
        for path in chosen[:vehicles_per_class]:
            captions = [c for noun in CLASS_NAMES[name] for c in class_captions(noun)]
            splits["vehicles"].append({"image": str(path), "captions": captions,
                                       "source": "cifar10", "licence": licence,
                                       "group": f"cifar:{name}", "id": f"{name}/{path.stem}"})
    for name in ANIMALS:
        chosen = list(files[name])
        rng.shuffle(chosen)
        if len(chosen) < val_per_class + seed_per_class:
            raise ValueError(f"class {name}: {len(chosen)} images, need more than "
                             f"{val_per_class + seed_per_class}")
        for path in chosen[:val_per_class]:
            splits["val"].append({"image": str(path), "label": name, "source": "cifar10",
                                  "licence": licence, "id": f"{name}/{path.stem}"})
        for path in chosen[val_per_class:val_per_class + seed_per_class]:
            splits["seed"].append({"image": str(path), "captions": class_captions(name),
                                   "source": "cifar10", "licence": licence,
                                   "group": f"cifar:{name}", "id": f"{name}/{path.stem}"})
        for path in chosen[val_per_class + seed_per_class:]:
            splits["pool"].append({"image": str(path), "source": "cifar10",
                                   "licence": licence})
            pool_labels.append(name)
    # Interleave the pool so its order says nothing about the labels.
    order = list(range(len(splits["pool"])))
    rng.shuffle(order)
    splits["pool"] = [splits["pool"][i] for i in order]
    for i, record in enumerate(splits["pool"]):
        record["id"] = f"pool-{i:05d}"
    splits["pool_labels"] = [pool_labels[i] for i in order]  # type: ignore[assignment]
    return splits


def animal_vocabulary(google_package: Path) -> Dict[str, List[str]]:
    """The six classes and, as distractors, emoji animal names that are not one of them
    or a kind of one of them (birds, dog breeds...)."""
    entries = json.loads((google_package / "package" / "emoji.json").read_text(encoding="utf-8"))
    distractors: List[str] = []
    for entry in entries:
        if entry["subcategory"] not in ANIMAL_SUBCATEGORIES or entry["subcategory"] == "animal-bird":
            continue
        name = entry["name"].lower()
        if name in NOT_DISTRACTORS or set(name.split()) & set(ANIMALS):
            continue
        name = re.sub(r" face$", "", name)
        if name not in distractors and name not in ANIMALS:
            distractors.append(name)
    return {"classes": list(ANIMALS), "distractors": distractors, "prompt": PROMPT}


# ---- the command --------------------------------------------------------------------------

def build(data_dir: Path, cifar10: Optional[Path], seed_per_class: int = 50, val_per_class: int = 500,
          vehicles_per_class: int = 5000, sources: Iterable[str] = DEFAULT_SOURCES, workers: int = 2,
          cache_size: Optional[int] = 64) -> Dict[str, int]:
    sources = set(sources)
    downloads, extract = data_dir / "downloads", data_dir / "extract"
    manifests = data_dir / "manifests"
    counts: Dict[str, int] = {}
    heldout: Set[str] = set()
    wordnet_source = wordnet_reader(data_dir)
    wordnet = WordNetCaptions(wordnet_source) if wordnet_source is not None else None
    if wordnet is None:
        print("data: warning: WordNet (Debian's wordnet-base) not found; no `wordnet` "
              "captions", flush=True)

    def emoji_name(record: Record) -> str:
        return record["captions"][0].split(":")[0]

    def named(records: List[Record], name_of=emoji_name) -> List[Record]:
        return enrich(records, name_of, wordnet)
    iconify = sources & set(ICONIFY_STYLES)
    if sources & {"google", "twitter", "openmoji"} or iconify:
        google = extracted(npm_pack(GOOGLE_EMOJI, downloads), extract, "emoji-datasource-google")
        base = json.loads((google / "package" / "emoji.json").read_text(encoding="utf-8"))
        heldout = heldout_codes(base)
        write_json(manifests / "heldout-emoji.json", sorted(heldout))
        write_json(manifests / "vocabulary.json", animal_vocabulary(google))
        if "google" in sources:
            counts["google-emoji"] = write_manifest(
                manifests / "google-emoji.jsonl",
                named(emoji_records(google, "google", heldout, True)))
    if iconify:
        fluent = extracted(npm_pack(ICONIFY_STYLES["fluent-emoji"], downloads), extract,
                           "fluent-emoji")
        codes = iconify_codes(fluent, base)
        for source in sorted(iconify):
            package = extracted(npm_pack(ICONIFY_STYLES[source], downloads), extract, source)
            counts[source] = write_manifest(
                manifests / f"{source}.jsonl",
                named(iconify_records(package, source, data_dir / "images" / source, codes,
                                      base, heldout, workers)))
    if "twitter" in sources:
        twitter = extracted(npm_pack(TWITTER_EMOJI, downloads), extract,
                            "emoji-datasource-twitter")
        counts["twitter-emoji"] = write_manifest(
            manifests / "twitter-emoji.jsonl", emoji_records(twitter, "twitter", heldout, False))
    if "openmoji" in sources:
        openmoji = extracted(npm_pack(OPENMOJI, downloads), extract, "openmoji")
        counts["openmoji"] = write_manifest(
            manifests / "openmoji.jsonl",
            named(openmoji_records(openmoji, data_dir / "images" / "openmoji", heldout,
                                   workers)))
    if "tuxpaint" in sources:
        tux = extracted(apt_download(TUXPAINT, downloads), extract, TUXPAINT)
        counts["tuxpaint"] = write_manifest(manifests / "tuxpaint.jsonl",
                                            named(tuxpaint_records(tux), lambda r: r["name"]))
    if "openclipart" in sources:
        clip = extracted(apt_download(OPENCLIPART, downloads), extract, OPENCLIPART)
        counts["openclipart"] = write_manifest(manifests / "openclipart.jsonl",
                                               named(openclipart_records(clip),
                                                     lambda r: r["captions"][0]))
    if "cifar" in sources:
        files = cifar_files(cifar10_source(cifar10), data_dir / "images" / "cifar10")
        splits = cifar_splits(files, seed_per_class, val_per_class, vehicles_per_class)
        for split in ("vehicles", "seed", "val", "pool"):
            counts[f"cifar-{split}"] = write_manifest(manifests / f"cifar-{split}.jsonl",
                                                      splits[split])
        write_json(manifests / "cifar-pool-labels.json", splits["pool_labels"])
    # A run over some sources keeps the other sources' counts.
    previous = manifests / "counts.json"
    all_counts = json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else {}
    write_json(previous, {**all_counts, **counts})
    if cache_size:
        from .images import cached_pixels
        from .manifest import read_manifest
        for name in sorted(counts):
            records = read_manifest(manifests / f"{name}.jsonl")
            print(f"data: preprocessing {name} ({len(records)} images, {cache_size} px)",
                  flush=True)
            cached_pixels([r["image"] for r in records], cache_size, data_dir / "cache", workers)
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--cifar10", type=Path, default=None,
                        help="cifar10-train.tar.gz, a folder holding it, or a folder with "
                             "train/<class>/*.jpg (default: $CEREBRO_CIFAR10)")
    parser.add_argument("--sources", default=",".join(DEFAULT_SOURCES))
    parser.add_argument("--seed-per-class", type=int, default=50)
    parser.add_argument("--val-per-class", type=int, default=500)
    parser.add_argument("--vehicles-per-class", type=int, default=5000)
    parser.add_argument("--cache-size", type=int, default=64,
                        help="also preprocess every manifest at this size (0: skip)")
    parser.add_argument("--workers", type=int, default=2)


def main(args: argparse.Namespace) -> int:
    counts = build(args.data_dir, args.cifar10, args.seed_per_class, args.val_per_class,
                   args.vehicles_per_class, args.sources.split(","), args.workers,
                   args.cache_size)
    print(json.dumps(counts, indent=2))
    return 0
