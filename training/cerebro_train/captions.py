"""More captions per training image: the forms people type, and WordNet's words.

A name such as "cat face" (an emoji) or "tabby cat" (a clip-art file name) is not what a
user types into a search box. Two extra caption lists are stored per training record,
each a separate manifest field so that training can take or leave them (`pipeline
--extra-captions`, the ablation in the model card):

- `typed`: "a cat", "a photo of a cat", "a picture of a cat" -- the name without an
  emoji's trailing "face", with an article, in the forms of the CLIP prompt templates
  people copy.
- `wordnet`: synonyms and the direct hypernym of the name's head noun from WordNet 3.0
  (Debian's wordnet-base, read with python3-nltk): "a car" for an automobile, "a feline"
  for a cat. The sense is the most frequent one among concrete nouns (animals, artefacts,
  food, plants, objects...), so "tiger" is the cat and not the person.

Debian's wordnet-base lacks the `lexnames` file nltk's reader opens; `wordnet_reader`
builds a folder of links to the package's files plus that 45-line table (lexnames(5WN)).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

WORDNET_DIR = Path("/usr/share/wordnet")
# lexnames(5WN): lexicographer file number -> name; the syntactic category follows.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food "
    "noun.group noun.location noun.motive noun.object noun.person noun.phenomenon "
    "noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative "
    "verb.weather adj.ppl").split()
POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
# Senses a picture can show.
CONCRETE = ("noun.animal", "noun.food", "noun.plant", "noun.artifact", "noun.body",
            "noun.object", "noun.substance", "noun.phenomenon", "noun.shape")
# Heads that name no thing of their own ("grinning face", "flag: Spain", "keycap 1").
SKIP_HEADS = {"face", "flag", "keycap", "sign", "symbol", "button", "mark", "hand", "person",
              "man", "woman", "people", "hands"}
TYPED_TEMPLATES = ("a {}", "a photo of a {}", "a picture of a {}")


def with_articles(text: str) -> str:
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def wordnet_reader(data_dir: Path, source: Path = WORDNET_DIR) -> Optional[Any]:
    """nltk's WordNet reader over Debian's wordnet-base, or None if it is not installed."""
    if not (source / "data.noun").is_file():
        return None
    folder = data_dir / "wordnet"
    folder.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        link = folder / file.name
        if not link.exists():
            link.symlink_to(file)
    lexnames = folder / "lexnames"
    if not lexnames.is_file():
        lexnames.write_text("".join(f"{i:02d}\t{name}\t{POS_NUMBER[name.split('.')[0]]}\n"
                                    for i, name in enumerate(LEXNAMES)), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
        return WordNetCorpusReader(str(folder), None)


def plain_name(name: str) -> str:
    """'cat face' -> 'cat'; 'Bird, 2' -> 'bird'; punctuation and digits dropped."""
    text = re.sub(r"[^a-z' ]+", " ", name.lower())
    text = re.sub(r"\s+", " ", text).strip()
    if text.endswith(" face") and len(text) > 5:
        text = text[:-5]
    return text


def typed_captions(name: str) -> List[str]:
    plain = plain_name(name)
    if not plain:
        return []
    return [with_articles(t.format(plain)) for t in TYPED_TEMPLATES]


class WordNetCaptions:
    """Synonym and hypernym captions for a name, cached per head noun."""

    def __init__(self, reader: Any, synonyms: int = 2) -> None:
        self.reader = reader
        self.synonyms = synonyms
        self.cache: Dict[str, List[str]] = {}

    def sense(self, words: str) -> Optional[Any]:
        """The most frequent concrete sense (SemCor counts; ties: animals first, as in
        CONCRETE's order), or None when a person sense is more frequent ("pilot")."""
        key = words.replace(" ", "_")
        best, best_rank, person = None, None, -1
        for order, synset in enumerate(self.reader.synsets(key, "n")):
            count = sum(l.count() for l in synset.lemmas() if l.name().lower() == key)
            if synset.lexname() == "noun.person":
                person = max(person, count)
            if synset.lexname() not in CONCRETE:
                continue
            rank = (-count, CONCRETE.index(synset.lexname()), order)
            if best_rank is None or rank < best_rank:
                best, best_rank = synset, rank
        if best is None or person > -best_rank[0]:
            return None
        return best

    def __call__(self, name: str) -> List[str]:
        plain = plain_name(name)
        if not plain:
            return []
        if plain in self.cache:
            return self.cache[plain]
        parts = plain.split()
        synset = self.sense(plain) if len(parts) > 1 else None
        head = self.reader.morphy(parts[-1], "n") or parts[-1] if parts else ""
        if synset is None and head and head not in SKIP_HEADS:
            synset = self.sense(head)
        out: List[str] = []
        if synset is not None:
            seen = {plain, parts[-1], head}
            for lemma in synset.lemma_names():
                word = lemma.replace("_", " ")
                if word.lower() == word and word not in seen and len(out) < self.synonyms:
                    out.append(with_articles(f"a {word}"))
                    seen.add(word)
            hypernyms = synset.hypernyms()
            if hypernyms:
                word = hypernyms[0].lemma_names()[0].replace("_", " ")
                if word.lower() == word and word not in seen:
                    out.append(with_articles(f"a {word}"))
        self.cache[plain] = out
        return out


def enrich(records: List[Dict[str, Any]], name_of, wordnet: Optional[WordNetCaptions]
           ) -> List[Dict[str, Any]]:
    """Add `typed` and `wordnet` caption lists to training records; name_of(record) gives
    the name the extra captions are made from."""
    for record in records:
        name = name_of(record)
        record["typed"] = typed_captions(name)
        record["wordnet"] = wordnet(name) if wordnet is not None else []
    return records
