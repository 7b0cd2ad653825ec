// gen_lists.c: the word lists behind `prune gen`, compiled in so generators need no files.
// Generated once from src/tasks/lists/ (kept there with their origin; MIT):
//   ioi_wang_lists.json  names, BABA templates, places, objects: Wang et al. 2022 via ACDC
//                        (ArthurConmy/Automatic-Circuit-Discovery acdc/ioi/ioi_dataset.py)
//   gt_nouns.txt         nouns for greater-than: ACDC acdc/greaterthan/utils.py
//   gp_templates_edge_pruning.json  gendered-pronoun templates: princeton-nlp/Edge-Pruning
// GP_FEMALE / GP_MALE split the Wang names by common gender (prune's own classification);
// names often given to both (Jamie, Kelly, Shannon) are left out.
#include "gen.h"

const char *const IOI_NAMES[] = {
    "Michael", "Christopher", "Jessica", "Matthew", "Ashley", "Jennifer", "Joshua", "Amanda",
    "Daniel", "David", "James", "Robert", "John", "Joseph", "Andrew", "Ryan", "Brandon", "Jason",
    "Justin", "Sarah", "William", "Jonathan", "Stephanie", "Brian", "Nicole", "Nicholas",
    "Anthony", "Heather", "Eric", "Elizabeth", "Adam", "Megan", "Melissa", "Kevin", "Steven",
    "Thomas", "Timothy", "Christina", "Kyle", "Rachel", "Laura", "Lauren", "Amber", "Brittany",
    "Danielle", "Richard", "Kimberly", "Jeffrey", "Amy", "Crystal", "Michelle", "Tiffany",
    "Jeremy", "Benjamin", "Mark", "Emily", "Aaron", "Charles", "Rebecca", "Jacob", "Stephen",
    "Patrick", "Sean", "Erin", "Jamie", "Kelly", "Samantha", "Nathan", "Sara", "Dustin", "Paul",
    "Angela", "Tyler", "Scott", "Katherine", "Andrea", "Gregory", "Erica", "Mary", "Travis",
    "Lisa", "Kenneth", "Bryan", "Lindsey", "Kristen", "Jose", "Alexander", "Jesse", "Katie",
    "Lindsay", "Shannon", "Vanessa", "Courtney", "Christine", "Alicia", "Cody", "Allison",
    "Bradley", "Samuel",
};
const int IOI_NAMES_N = 99;

const char *const IOI_BABA_TEMPLATES[] = {
    "Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to [A]",
    "Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to [A]",
    "Then, [B] and [A] had a long argument, and afterwards [B] said to [A]",
    "After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to [A]",
    "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to [A]",
    "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give the [OBJECT] to [A]",
    "While [B] and [A] were working at the [PLACE], [B] gave a [OBJECT] to [A]",
    "While [B] and [A] were commuting to the [PLACE], [B] gave a [OBJECT] to [A]",
    "After the lunch, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Afterwards, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] had a long argument. Afterwards [B] said to [A]",
    "The [PLACE] [B] and [A] went to had a [OBJECT]. [B] gave it to [A]",
    "Friends [B] and [A] found a [OBJECT] at the [PLACE]. [B] gave it to [A]",
};
const int IOI_BABA_TEMPLATES_N = 15;

const char *const IOI_PLACES[] = {
    "store", "garden", "restaurant", "school", "hospital", "office", "house", "station",
};
const int IOI_PLACES_N = 8;

const char *const IOI_OBJECTS[] = {
    "ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack",
};
const int IOI_OBJECTS_N = 8;

const char *const GT_NOUNS[] = {
    "abduction", "accord", "affair", "agreement", "appraisal", "assaults", "assessment", "attack",
    "attempts", "campaign", "captivity", "case", "challenge", "chaos", "clash", "collaboration",
    "coma", "competition", "confrontation", "consequence", "conspiracy", "construction",
    "consultation", "contact", "contract", "convention", "cooperation", "custody", "deal",
    "decline", "decrease", "demonstrations", "development", "disagreement", "disorder", "dispute",
    "domination", "dynasty", "effect", "effort", "employment", "endeavor", "engagement",
    "epidemic", "evaluation", "exchange", "existence", "expansion", "expedition", "experiments",
    "fall", "fame", "flights", "friendship", "growth", "hardship", "hostility", "illness",
    "impact", "imprisonment", "improvement", "incarceration", "increase", "insurgency",
    "invasion", "investigation", "journey", "kingdom", "marriage", "modernization", "negotiation",
    "notoriety", "obstruction", "operation", "order", "outbreak", "outcome", "overhaul",
    "patrols", "pilgrimage", "plague", "plan", "practice", "process", "program", "progress",
    "project", "pursuit", "quest", "raids", "reforms", "reign", "relationship", "retaliation",
    "riot", "rise", "rivalry", "romance", "rule", "sanctions", "shift", "siege", "slump",
    "stature", "stint", "strikes", "study", "test", "testing", "tests", "therapy", "tour",
    "tradition", "treaty", "trial", "trip", "unemployment", "voyage", "warfare", "work",
};
const int GT_NOUNS_N = 120;

const char *const GP_TEMPLATES[] = {
    "So {name} always remembers birthdays, doesn't",
    "So {name} is always there to lend an ear, isn't",
    "So {name} often volunteers for charity work, doesn't",
    "So {name} brings coffee when you're working late, doesn't",
    "So {name} shares their lunch when you forget yours, doesn't",
    "So {name} offers a ride home when it's raining, doesn't",
    "So {name} always knows how to make you laugh, doesn't",
    "So {name} is the first to congratulate you, isn't",
    "So {name} gives the best book recommendations, doesn't",
    "So {name} remembers all the little details, doesn't",
    "So {name} is always up for an adventure, isn't",
    "So {name} can always be counted on in a crisis, can't",
    "So {name} keeps secrets well, doesn't", "So {name} is great at giving advice, isn't",
    "So {name} is always encouraging, isn't", "So {name} shows up to all your events, doesn't",
    "So {name} always texts back promptly, doesn't",
    "So {name} is never too busy to help out, is",
    "So {name} makes the best homemade cookies, doesn't",
    "So {name} is the person everyone trusts, isn't",
    "So {name} stays calm under pressure, doesn't",
    "So {name} always plans the best surprises, doesn't", "So {name} is great with kids, isn't",
    "So {name} is always respectful to everyone, isn't",
    "So {name} knows how to listen without judging, doesn't",
    "So {name} stands up for their friends, doesn't",
    "So {name} is passionate about their hobbies, isn't",
    "So {name} is always learning something new, isn't",
    "So {name} takes care of their health, doesn't",
    "So {name} respects other people's opinions, doesn't",
};
const int GP_TEMPLATES_N = 30;

const char *const GP_FEMALE[] = {
    "Jessica", "Ashley", "Jennifer", "Amanda", "Sarah", "Stephanie", "Nicole", "Heather",
    "Elizabeth", "Megan", "Melissa", "Christina", "Rachel", "Laura", "Lauren", "Amber",
    "Brittany", "Danielle", "Kimberly", "Amy", "Crystal", "Michelle", "Tiffany", "Emily",
    "Rebecca", "Erin", "Samantha", "Sara", "Angela", "Katherine", "Andrea", "Erica", "Mary",
    "Lisa", "Lindsey", "Kristen", "Katie", "Lindsay", "Vanessa", "Courtney", "Christine",
    "Alicia", "Allison",
};
const int GP_FEMALE_N = 43;

const char *const GP_MALE[] = {
    "Michael", "Christopher", "Matthew", "Joshua", "Daniel", "David", "James", "Robert", "John",
    "Joseph", "Andrew", "Ryan", "Brandon", "Jason", "Justin", "William", "Jonathan", "Brian",
    "Nicholas", "Anthony", "Eric", "Adam", "Kevin", "Steven", "Thomas", "Timothy", "Kyle",
    "Richard", "Jeffrey", "Jeremy", "Benjamin", "Mark", "Aaron", "Charles", "Jacob", "Stephen",
    "Patrick", "Sean", "Nathan", "Dustin", "Paul", "Tyler", "Scott", "Gregory", "Travis",
    "Kenneth", "Bryan", "Jose", "Alexander", "Jesse", "Cody", "Bradley", "Samuel",
};
const int GP_MALE_N = 53;
