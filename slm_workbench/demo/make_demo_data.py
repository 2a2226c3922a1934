"""Generate the demo dataset: contact extraction to JSON, mixed with general chat.

    python -m slm_workbench.demo.make_demo_data        # rewrites the three files (seed 20261129)

The skill: given "Extract the contact as JSON:" and a sentence about a person, answer with
exactly one line ``{"name": "...", "age": N, "city": "..."}`` (keys in that order; ``age``
is ``null`` when the sentence gives none). It is narrow, copy-based (learnable by a 135M
model in a few LoRA steps), absent from the base model's habits, and checkable on generated
text with ``check_extraction``. ``eval_examples`` draws fresh sentences from names and
cities that never occur in the training file, to test that the skill generalises.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from . import general

SEED = 20261129
OUT = Path(__file__).with_name("demo_chat.jsonl")
EVAL_OUT = Path(__file__).with_name("demo_eval.jsonl")
EVAL_ROWS = 64
"""Held-out examples written to ``demo_eval.jsonl`` (``slmw:demo-eval``): enough for a bootstrap interval."""
INSTRUCTIONS = ("Extract the contact as JSON:", "Extract the contact as JSON.", "Extract name, age and city as JSON:")
EVAL_INSTRUCTION = INSTRUCTIONS[0]
PROMPTS_OUT = Path(__file__).with_name("demo_prompts.jsonl")
PROMPT_ROWS = 640
"""Extraction prompts for a teacher to answer (``slmw:demo-prompts``): the distillation demo's input."""
# More names and cities for the distillation prompts only (in neither the training nor the held-out file):
# a student must copy names it has never seen, which the training file's 40 x 40 grid does not teach.
POOL_FIRST = ("Adele Bruno Camila Dmitri Esther Farid Gloria Hector Irene Joaquin Karin Liam Malik Nora Otto Paloma "
              "Quentin Rosa Stefan Tamar Ulrich Vera Wanda Xavier Yusuf Zoe Alma Boris Celia Dario Elif Gustav Helga "
              "Ivan Jana Klaus Lena Mario Nerea Orla Pietro Rania Sven Tove Umar Vivian Wim Yasmin Aurelio Bianca "
              "Cyrus Dagny Emil Fiona Goran Hedda Ismael Jorge Kofi Lotte Mina Nils Oona Raul Selma Teodor Uma").split()
POOL_LAST = ("Andersen Barros Castillo Dimitrov Esposito Fontaine Gallo Horvat Ibarra Jansen Kovacs Lindqvist Marino "
             "Nakano Oliveira Pereira Quint Rasmussen Schneider Toth Ueda Valdez Wagner Yilmaz Zeller Abbott Brandt "
             "Carvalho Dalton Engel Ferrari Gomez Hartmann Ivanova Jovanovic Keller Lehmann Moreno Nowak Ortega Pavlov "
             "Reyes Santos Tanner Urban Vogel Walsh Young Zamora Arslan Bauer Conti Duval Eriksen Falk Greco Hoffmann "
             "Ito Jensen Kaya Lund Maier Novotny Olsen Popescu Richter Sorensen").split()
POOL_CITIES = ("Antwerp Bilbao Calgary Dresden Edinburgh Faro Geneva Hanoi Izmir Jaipur Krakow Leipzig Malaga Naples "
               "Odessa Palermo Quito Rotterdam Salzburg Tbilisi Ulm Verona Warsaw Yokohama Zagreb Aberdeen Bremen "
               "Cordoba Dublin Essen Fukuoka Graz Hobart Innsbruck Jena Kobe Lucerne Marseille Nice Oviedo Perth Riga "
               "Split Trieste Vilnius Wroclaw Zurich Basel Cadiz Davos Eindhoven Firenze Ghent Haarlem Ibiza Kiel "
               "Lille Mainz Nimes Oulu Padua Reims Sintra Tartu Umea Vigo").split()
SYLLABLES = ("ka lo mi ren dor sa vi tel ba nu ro li zan fe go ma ti ra sol ven da kir mo el pa "
             "jun to bre li wen ha os cal dri ne fa lun gri be sto mar").split()

FIRST = ("Maria Tom Aiko Lars Fatima Diego Chen Olga Kwame Priya Lukas Sofia Omar Hana Mateo Ingrid Ravi Elena "
         "Jonas Amara Pablo Yuki Nadia Felix Leila Tariq Ines Mikko Zara Samuel Chloe Arjun Freya Marco Amina Oskar "
         "Lucia Kenji Ada Noor").split()
LAST = ("Silva Baker Tanaka Nilsson Haddad Ramirez Wei Petrova Mensah Sharma Weber Rossi Farouk Kim Lopez Berg Patel "
        "Novak Fischer Okafor Garcia Sato Khan Moreau Aziz Costa Virtanen Ahmed Cohen Martin Dubois Iyer Larsen Bianchi "
        "Diallo Svensson Romero Mori Lovelace Rahman").split()
CITIES = ("Lisbon Leeds Osaka Oslo Beirut Seville Shanghai Kazan Accra Pune Munich Turin Cairo Busan Bogotá Bergen Delhi "
          "Prague Hamburg Lagos Valencia Sapporo Karachi Lyon Casablanca Porto Helsinki Dhaka Haifa Toronto Nantes Chennai "
          "Aarhus Florence Dakar Gothenburg Madrid Kyoto Manchester Nairobi").split()
# Held out: never in the training file, used only by eval_examples.
EVAL_FIRST = "Greta Idris Beatriz Tomasz Yara Emeka Linnea Rafael Mei Anouk".split()
EVAL_LAST = "Holm Quispe Nakamura Kowalski Said Eze Lind Duarte Lin Visser".split()
EVAL_CITIES = "Tallinn Cusco Nagoya Gdansk Tunis Enugu Uppsala Recife Taipei Utrecht".split()

WITH_AGE = (
    "{name} is {age} years old and lives in {city}.",
    "{name}, {age}, lives in {city}.",
    "Meet {name} from {city}, who is {age}.",
    "Our new colleague {name} ({age}) just moved to {city}.",
    "{city} is home to {name}, who turned {age} this year.",
    "Name: {name}. Age: {age}. City: {city}.",
    "I met {name} in {city}. {first} is {age}.",
    "{name} ({age}, {city}) signed up yesterday.",
    "Contact: {name}, age {age}, based in {city}.",
    "At {age}, {name} runs a small bakery in {city}.",
    "Please add {name} to the list: {age} years old, from {city}.",
    "New member: {name} of {city}, aged {age}.",
    "{name} lives in {city}. {first} is {age} years old.",
    "From {city}: {name}, {age}.",
    "Hi, I'm {name}. I'm {age} and I live in {city}.",
)
NO_AGE = (
    "{name} lives in {city}.",
    "Our new colleague {name} just moved to {city}.",
    "Contact: {name}, based in {city}.",
    "Hi, I'm {name} and I live in {city}.",
)


def extraction_example(rng: random.Random, first: list[str], last: list[str], cities: list[str],
                       instruction: str | None = None) -> tuple[str, dict[str, Any]]:
    """A prompt and the exact object the answer must encode."""
    given, family, city = rng.choice(first), rng.choice(last), rng.choice(cities)
    name = f"{given} {family}"
    if rng.random() < 0.12:
        age, sentence = None, rng.choice(NO_AGE).format(name=name, city=city)
    else:
        age = rng.randint(18, 90)
        sentence = rng.choice(WITH_AGE).format(name=name, age=age, city=city, first=given)
    prompt = f"{instruction or rng.choice(INSTRUCTIONS)}\n{sentence}"
    return prompt, {"name": name, "age": age, "city": city}


def answer(expected: dict[str, Any]) -> str:
    return json.dumps(expected, ensure_ascii=False)


def check_extraction(expected: dict[str, Any], output: str) -> bool:
    """True when ``output`` (generated text) is the expected object: the first line parsed as JSON."""
    line = output.strip().splitlines()[0] if output.strip() else ""
    try:
        return json.loads(line) == expected
    except json.JSONDecodeError:
        return False


def eval_examples(n: int = 20, seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    """Fresh prompts from held-out names and cities: ``[(prompt, expected), ...]``."""
    rng = random.Random(seed)
    return [extraction_example(rng, EVAL_FIRST, EVAL_LAST, EVAL_CITIES, EVAL_INSTRUCTION) for _ in range(n)]


def made_up_word(rng: random.Random, low: int = 2, high: int = 3) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(low, high))).capitalize()


def prompt_pool(n: int = PROMPT_ROWS, seed: int = 11) -> list[tuple[str, dict[str, Any]]]:
    """Extraction prompts for distillation, none of them in the training or the held-out file: a quarter
    with the training file's names and cities in new combinations, half with names and cities from
    larger lists the training file never uses, a quarter made up (a student that memorises names fails
    those; one that copies from the sentence passes). ``[(prompt, expected), ...]``."""
    rng = random.Random(seed)
    taken = {row["messages"][-2]["content"] for row in build()} | {p for p, _ in eval_examples(EVAL_ROWS)}
    out: dict[str, dict[str, Any]] = {}
    while len(out) < n:
        draw = rng.random()
        if draw < 0.25:
            prompt, fact = extraction_example(rng, FIRST, LAST, CITIES)
        elif draw < 0.75:
            prompt, fact = extraction_example(rng, POOL_FIRST, POOL_LAST, POOL_CITIES)
        else:
            first = [made_up_word(rng, 2, 2) for _ in range(3)]
            last = [made_up_word(rng) for _ in range(3)]
            prompt, fact = extraction_example(rng, first, last, [made_up_word(rng) for _ in range(3)])
        if prompt not in taken:
            out.setdefault(prompt, fact)
    return list(out.items())


def _chat(*turns: tuple[str, str], system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    for user, assistant in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def general_examples(rng: random.Random) -> list[dict[str, Any]]:
    rows = [_chat((f"What is the capital of {country}?", f"The capital of {country} is {city}."))
            for country, city in general.CAPITALS]
    rows += [_chat(qa) for qa in general.FACTS + general.SMALL_TALK]
    rows += [_chat((f"What is {term}?", text)) for term, text in general.DEFINITIONS]
    rows += [_chat(*turns) for turns in general.CONVERSATIONS]
    for i, (question, text) in enumerate(general.FACTS[:10]):
        rows.append(_chat((question, text), system=general.SYSTEM_PROMPTS[i % len(general.SYSTEM_PROMPTS)]))
    for _ in range(20):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        rows.append(_chat((f"What is {a} + {b}?", f"{a} + {b} = {a + b}.")))
    for _ in range(12):
        a, b = sorted((rng.randint(2, 99), rng.randint(2, 99)), reverse=True)
        rows.append(_chat((f"What is {a} - {b}?", f"{a} - {b} = {a - b}.")))
    for _ in range(12):
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        rows.append(_chat((f"What is {a} × {b}?", f"{a} × {b} = {a * b}.")))
    for _ in range(16):  # about people, but not asking for JSON: answer in prose
        prompt, fact = extraction_example(rng, FIRST, LAST, CITIES)
        sentence = prompt.split("\n", 1)[1]
        if fact["age"] is not None and rng.random() < 0.5:
            rows.append(_chat((f"How old is {fact['name']}? {sentence}", f"{fact['name']} is {fact['age']} years old.")))
        else:
            rows.append(_chat((f"Where does {fact['name']} live? {sentence}", f"{fact['name']} lives in {fact['city']}.")))
    return rows


def build(seed: int = SEED, n_skill: int = 400) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    skill: dict[str, dict[str, Any]] = {}
    while len(skill) < n_skill:  # no duplicate prompts: prepare's dedupe keeps every row
        prompt, fact = extraction_example(rng, FIRST, LAST, CITIES)
        skill.setdefault(prompt, _chat((prompt, answer(fact))))
    rows = list(skill.values()) + general_examples(rng)
    rows = list({json.dumps(r, sort_keys=True): r for r in rows}.values())
    rng.shuffle(rows)
    return rows


def held_out_rows(n: int = EVAL_ROWS) -> list[dict[str, Any]]:
    """``eval_examples`` as chat rows whose reference is the expected JSON line."""
    return [_chat((prompt, answer(expected))) for prompt, expected in eval_examples(n)]


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {path} ({path.stat().st_size / 1000:.0f} KB)")


def main() -> None:
    _write(OUT, build())
    _write(EVAL_OUT, held_out_rows())
    _write(PROMPTS_OUT, [_chat((prompt, answer(expected))) for prompt, expected in prompt_pool()])


if __name__ == "__main__":
    main()
