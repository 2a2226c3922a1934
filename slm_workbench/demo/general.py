"""General chat examples, written for this project, mixed into the demo set.

They keep a model fine-tuned on the narrow skill answering ordinary questions normally
(80 LoRA steps on a narrow set alone made SmolLM2 answer everything in that style). Every
answer is short and checkable; arithmetic is generated in ``make_demo_data.py``.
"""

from __future__ import annotations

CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Canada", "Ottawa"), ("Australia", "Canberra"),
    ("Brazil", "Brasília"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Germany", "Berlin"),
    ("Italy", "Rome"), ("Spain", "Madrid"), ("Norway", "Oslo"), ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"), ("Poland", "Warsaw"), ("Greece", "Athens"), ("Turkey", "Ankara"),
    ("India", "New Delhi"), ("China", "Beijing"), ("South Korea", "Seoul"), ("Mexico", "Mexico City"),
    ("Argentina", "Buenos Aires"), ("Chile", "Santiago"), ("Peru", "Lima"), ("Nigeria", "Abuja"),
    ("Morocco", "Rabat"), ("Vietnam", "Hanoi"), ("Thailand", "Bangkok"), ("New Zealand", "Wellington"),
    ("Ireland", "Dublin"), ("Austria", "Vienna"),
]

FACTS = [
    ("At what temperature does water boil at sea level?", "At sea level, water boils at 100 °C (212 °F)."),
    ("At what temperature does water freeze?", "Water freezes at 0 °C (32 °F) at normal atmospheric pressure."),
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
    ("What is the chemical symbol for iron?", "The chemical symbol for iron is Fe."),
    ("What is the chemical symbol for sodium?", "The chemical symbol for sodium is Na."),
    ("What is the chemical formula of water?", "The chemical formula of water is H2O: two hydrogen atoms and one oxygen atom."),
    ("Which planet is the largest in the Solar System?", "Jupiter is the largest planet in the Solar System."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("Which planet is known as the Red Planet?", "Mars is known as the Red Planet, because of the iron oxide on its surface."),
    ("How many planets are in the Solar System?", "There are eight planets in the Solar System."),
    ("How long does it take Earth to orbit the Sun?", "Earth takes about 365.25 days to orbit the Sun, which is why a leap day is added every four years."),
    ("How long does sunlight take to reach Earth?", "Sunlight takes about 8 minutes and 20 seconds to reach Earth."),
    ("How many bones does an adult human have?", "An adult human has 206 bones."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
    ("What is the highest mountain above sea level?", "Mount Everest is the highest mountain above sea level, at about 8,849 metres."),
    ("How many continents are there?", "By the most common convention there are seven continents: Africa, Antarctica, Asia, Australia, Europe, North America and South America."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa."),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong was the first person to walk on the Moon, in July 1969, during the Apollo 11 mission."),
    ("What does DNA stand for?", "DNA stands for deoxyribonucleic acid."),
    ("What is the approximate value of pi?", "Pi is approximately 3.14159."),
    ("What do the angles of a triangle add up to?", "The interior angles of a triangle add up to 180 degrees."),
    ("How many degrees are in a right angle?", "A right angle is 90 degrees."),
    ("What is the square root of 144?", "The square root of 144 is 12."),
    ("How many metres are in a kilometre?", "There are 1,000 metres in a kilometre."),
    ("How many seconds are in an hour?", "There are 3,600 seconds in an hour."),
    ("How many days are in a leap year?", "A leap year has 366 days."),
    ("How many minutes are in a day?", "There are 1,440 minutes in a day."),
    ("What gas do plants take in for photosynthesis?", "Plants take in carbon dioxide (CO2) and release oxygen during photosynthesis."),
    ("What is the speed of light?", "The speed of light in a vacuum is about 299,792 kilometres per second."),
    ("What is the boiling point of water in Fahrenheit?", "Water boils at 212 °F at sea level."),
    ("What is the smallest prime number?", "The smallest prime number is 2, and it is the only even prime."),
    ("Is 51 a prime number?", "No. 51 is not prime, because 51 = 3 × 17."),
    ("Is 29 a prime number?", "Yes. 29 is prime: its only divisors are 1 and 29."),
    ("How many sides does a hexagon have?", "A hexagon has six sides."),
    ("What is the freezing point of water in Kelvin?", "Water freezes at about 273.15 K."),
]

DEFINITIONS = [
    ("photosynthesis", "Photosynthesis is the process by which plants, algae and some bacteria use light energy to turn carbon dioxide and water into sugar, releasing oxygen."),
    ("gravity", "Gravity is the force by which masses attract each other; it keeps us on the ground and the planets in orbit around the Sun."),
    ("an algorithm", "An algorithm is a finite sequence of well-defined steps for solving a problem or performing a computation."),
    ("a prime number", "A prime number is a whole number greater than 1 whose only divisors are 1 and itself, such as 2, 3, 5 and 7."),
    ("a noun", "A noun is a word that names a person, place, thing or idea, such as \"teacher\", \"city\" or \"freedom\"."),
    ("a verb", "A verb is a word that describes an action or a state, such as \"run\", \"think\" or \"be\"."),
    ("an atom", "An atom is the smallest unit of a chemical element, made of a nucleus of protons and neutrons surrounded by electrons."),
    ("a molecule", "A molecule is a group of two or more atoms held together by chemical bonds, such as a water molecule, H2O."),
    ("inflation", "Inflation is the general rise in prices over time, which means each unit of money buys less."),
    ("a mammal", "A mammal is a warm-blooded animal with hair or fur that feeds its young with milk, such as a dog, a whale or a human."),
    ("evaporation", "Evaporation is the change of a liquid into a gas at its surface, as when a puddle dries in the sun."),
    ("a synonym", "A synonym is a word that means the same or nearly the same as another word, such as \"big\" and \"large\"."),
    ("an antonym", "An antonym is a word with the opposite meaning of another word, such as \"hot\" and \"cold\"."),
    ("a fraction", "A fraction represents a part of a whole, written as one number over another, such as 3/4."),
    ("a percentage", "A percentage is a number expressed as a fraction of 100; 25% means 25 out of 100."),
    ("a variable in programming", "A variable is a named place in a program that stores a value, which the program can read and change."),
    ("a function in programming", "A function is a named block of code that takes inputs, performs a task and can return a result."),
    ("machine learning", "Machine learning is a field of computer science in which programs learn patterns from data instead of following only hand-written rules."),
    ("a CPU", "A CPU (central processing unit) is the part of a computer that executes the instructions of programs."),
    ("RAM", "RAM (random-access memory) is a computer's fast, temporary working memory; its contents are lost when the power is off."),
    ("a volcano", "A volcano is an opening in the Earth's crust through which molten rock, ash and gases escape."),
    ("an ecosystem", "An ecosystem is a community of living things together with their physical environment, interacting as a system."),
]

SMALL_TALK = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Thank you!", "You're welcome! Let me know if there is anything else I can help with."),
    ("Give me a synonym for happy.", "A synonym for happy is \"joyful\"."),
    ("Give me an antonym for ancient.", "An antonym for ancient is \"modern\"."),
    ("What is the plural of mouse?", "The plural of mouse is mice."),
    ("What is the past tense of go?", "The past tense of go is went."),
    ("Spell the word necessary.", "N-E-C-E-S-S-A-R-Y: necessary."),
    ("What are the primary colours of light?", "The primary colours of light are red, green and blue."),
    ("How many letters are in the English alphabet?", "The English alphabet has 26 letters."),
    ("Which day comes after Friday?", "Saturday comes after Friday."),
    ("What month comes after March?", "April comes after March."),
    ("Write a one-sentence tip for staying focused.", "Work on one task at a time for a set period, such as 25 minutes, with notifications turned off."),
]

SYSTEM_PROMPTS = [
    "You are a concise assistant. Answer in one sentence.",
    "You are a friendly tutor for school students.",
]

CONVERSATIONS = [
    [("What is the capital of Italy?", "The capital of Italy is Rome."), ("And of Spain?", "The capital of Spain is Madrid.")],
    [("How many days are in a week?", "There are seven days in a week."), ("And in a fortnight?", "A fortnight is two weeks, so 14 days.")],
    [("What is 12 × 12?", "12 × 12 = 144."), ("And its square root?", "The square root of 144 is 12.")],
    [("Which planet is the largest?", "Jupiter is the largest planet in the Solar System."), ("Which is the smallest?", "Mercury is the smallest planet in the Solar System.")],
    [("What is a noun?", "A noun is a word that names a person, place, thing or idea."), ("Give me an example.", "\"Mountain\" is a noun: it names a thing.")],
    [("Who wrote Hamlet?", "William Shakespeare wrote Hamlet."), ("Did he also write Macbeth?", "Yes, Macbeth is also a play by William Shakespeare.")],
]
