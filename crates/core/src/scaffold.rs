//! New projects and new posts, as text and bytes: what `crieur init` and
//! `crieur new` write. Pure; the files to write are returned, not written.
//!
//! The defaults (templates, fonts and their licences, icons) are embedded
//! in the binary, so `init` works from an installed `crieur` with no
//! repository at hand. The brand's colours are derived from the two the
//! user gives so that every template passes the contrast rule of `check`:
//! a colour that white text would not read on is darkened, keeping its hue.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::{Config, Series};
use crate::contrast::{LARGE, NORMAL, from_hsl, hex, nearest_passing, ratio, to_hsl};
use crate::template::{FieldKind, LayerKind, Template, placeholders};

/// One file of a new project: its path under the project and its bytes.
pub type File = (String, Vec<u8>);

/// The caption `new` writes under the front matter, for the officer to
/// replace: `check` refuses a caption that still holds it.
pub const NEW_CAPTION: &str = "Écrivez ici la légende du post.";

/// The values hints and comments show for a value to write (`alt = "…"`):
/// `check` refuses a field, an alt text or a caption that is only one of
/// them.
pub const PLACEHOLDERS: [&str; 2] = ["…", "..."];

/// The captions of the example posts `init` writes, by example.
macro_rules! example_caption {
    (espace) => {
        "Aujourd'hui, près de 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé, le carnet de santé numérique de l'Assurance Maladie.\n\nOrdonnances, comptes rendus, vaccinations : tout y est réuni, et c'est vous qui choisissez avec quels professionnels de santé le partager."
    };
    (teleconsultations) => {
        "Avec la crise sanitaire, la téléconsultation est entrée dans les habitudes : près de 8 % des consultations se sont faites à distance en 2020, contre moins de 1 % l'année d'avant.\n\nElle ne remplace pas la consultation au cabinet, mais elle la complète : suivi d'une maladie chronique, renouvellement d'ordonnance, conseil rapide."
    };
}

/// The example posts `init` writes, each file with its caption. They are
/// there to be copied: `check` refuses their caption in any other file.
pub const EXAMPLE_CAPTIONS: [(&str, &str); 2] = [
    (
        "posts/chiffre/01-mon-espace-sante.md",
        example_caption!(espace),
    ),
    (
        "posts/chiffre/02-teleconsultations.md",
        example_caption!(teleconsultations),
    ),
];

const TEMPLATES: [(&str, &str); 3] = [
    (
        "chiffre",
        include_str!("../../../assets/templates/chiffre.toml"),
    ),
    (
        "outil",
        include_str!("../../../assets/templates/outil.toml"),
    ),
    (
        "evenement",
        include_str!("../../../assets/templates/evenement.toml"),
    ),
];

const BINARIES: [(&str, &[u8]); 10] = [
    (
        "assets/fonts/Lato-Black.ttf",
        include_bytes!("../../../assets/fonts/Lato-Black.ttf"),
    ),
    (
        "assets/fonts/Lato-Bold.ttf",
        include_bytes!("../../../assets/fonts/Lato-Bold.ttf"),
    ),
    (
        "assets/fonts/Inter-Regular.otf",
        include_bytes!("../../../assets/fonts/Inter-Regular.otf"),
    ),
    (
        "assets/fonts/Inter-SemiBold.otf",
        include_bytes!("../../../assets/fonts/Inter-SemiBold.otf"),
    ),
    (
        "assets/fonts/LICENSE-Lato.txt",
        include_bytes!("../../../assets/fonts/LICENSE-Lato.txt"),
    ),
    (
        "assets/fonts/LICENSE-Inter.txt",
        include_bytes!("../../../assets/fonts/LICENSE-Inter.txt"),
    ),
    (
        "assets/icons/securise.png",
        include_bytes!("../../../assets/icons/securise.png"),
    ),
    (
        "assets/icons/non-securise.png",
        include_bytes!("../../../assets/icons/non-securise.png"),
    ),
    (
        "assets/icons/patients.png",
        include_bytes!("../../../assets/icons/patients.png"),
    ),
    (
        "assets/icons/telemedecine.png",
        include_bytes!("../../../assets/icons/telemedecine.png"),
    ),
];

/// The default colours: those of the example project.
pub const DEFAULT_PRIMARY: &str = "#1F4E79";
pub const DEFAULT_ACCENT: &str = "#C54B1A";

/// What `init` is told.
#[derive(Debug, Clone)]
pub struct Init {
    pub name: String,
    pub primary: [u8; 3],
    pub accent: [u8; 3],
    pub timezone: Tz,
    /// A logo given by the user: its file name and PNG bytes.
    pub logo: Option<(String, Vec<u8>)>,
}

/// Reads `#RRGGBB` (or `RRGGBB`).
pub fn parse_colour(text: &str) -> Option<[u8; 3]> {
    let hex = text.trim().trim_start_matches('#');
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// The brand's palette, derived from the two colours given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    pub colors: Vec<(&'static str, [u8; 3])>,
    /// What was changed, and why, in French.
    pub notes: Vec<String>,
}

fn mix(a: [u8; 3], b: [u8; 3], t: f64) -> [u8; 3] {
    let m = |x: u8, y: u8| (f64::from(x) * (1.0 - t) + f64::from(y) * t).round() as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

/// The colours every template names. The brand's two colours are kept as
/// given, and decorative shapes (stripes, rules, fills) use them exactly;
/// contrast comes from choosing what goes on each colour: white or dark
/// text on the primary and on the accent, the accent as text only where it
/// reads (on the primary), the primary for a figure on paper when the
/// accent is too pale there, a darker shade of the primary only for small
/// text on paper. The categories of the `outil` template take hues spread
/// around the primary's, each with the text that reads on it.
pub fn palette(primary: [u8; 3], accent: [u8; 3]) -> Palette {
    let white = [255, 255, 255];
    let ink = [0x1D, 0x27, 0x33];
    let mut notes = Vec::new();
    let mist = mix(primary, white, 0.94);
    let deep = mix(primary, [0, 0, 0], 0.25);
    let primary_ink = text_on(&[primary, deep]);
    let accent_ink = text_on(&[accent]);
    let highlight = if ratio(accent, white) >= LARGE {
        accent
    } else {
        let (color, said) = if ratio(primary, white) >= LARGE {
            (primary, "dans la couleur principale")
        } else {
            (ink, "en gris foncé")
        };
        notes.push(format!(
            "les chiffres s'écrivent {said} : la couleur d'accent {} ne se lit pas sur le blanc ({}) ; elle garde les bandeaux et les filets",
            hex(accent),
            crate::contrast::format(ratio(accent, white))
        ));
        color
    };
    let accent_on_primary = if ratio(accent, primary) >= LARGE && ratio(accent, deep) >= LARGE {
        accent
    } else {
        primary_ink
    };
    // Small text (the brand's name) on paper and on the primary's tint.
    let mut primary_text = primary;
    for _ in 0..8 {
        let worst = if ratio(primary_text, mist) < ratio(primary_text, white) {
            mist
        } else {
            white
        };
        if ratio(primary_text, worst) >= NORMAL {
            break;
        }
        primary_text = nearest_passing(primary_text, worst, NORMAL);
    }
    if primary_text != primary {
        notes.push(format!(
            "le nom de la structure, en petit, s'écrit en {} : une nuance plus foncée de la couleur principale {}, qui se lit sur le blanc",
            hex(primary_text),
            hex(primary)
        ));
    }
    let mut colors = vec![
        ("primary", primary),
        ("accent", accent),
        ("primary-ink", primary_ink),
        ("accent-ink", accent_ink),
        ("highlight", highlight),
        ("accent-on-primary", accent_on_primary),
        ("primary-text", primary_text),
        ("deep", deep),
        ("ink", ink),
        ("muted", [0x5B, 0x66, 0x75]),
        ("paper", white),
        ("mist", mist),
        ("white", white),
    ];
    let categories = categories(primary);
    colors.extend(categories.iter().map(|(name, color, _)| (*name, *color)));
    colors.extend(categories.iter().map(|(_, _, ink)| *ink));
    Palette { colors, notes }
}

/// A category's name and colour, and its text colour's name and colour.
type Category = (&'static str, [u8; 3], (&'static str, [u8; 3]));

/// Adds to a brand that asks for them (`categories = "derived"`) the
/// category colours its colours do not name, derived from its primary as
/// for a new project; a colour it names is kept.
pub fn derive_categories(brand: &mut crate::config::Brand) {
    let Some(span) = brand.derived_categories.clone() else {
        return;
    };
    let Some(primary) = brand
        .colors
        .get("primary")
        .and_then(|color| parse_colour(color.get_ref()))
    else {
        return;
    };
    for (name, color, (ink_name, ink)) in categories(primary) {
        for (name, color) in [(name, color), (ink_name, ink)] {
            brand
                .colors
                .entry(name.to_owned())
                .or_insert_with(|| toml::Spanned::new(span.clone(), hex(color)));
        }
    }
}

/// The category colours of the `outil` template, by name, each with the
/// text colour that reads on it: five hues a fifth of the colour wheel
/// apart, starting from the primary's, at one lightness and saturation, so
/// that they sit together with the brand.
fn categories(primary: [u8; 3]) -> Vec<Category> {
    const NAMES: [(&str, &str); 5] = [
        ("medical", "medical-ink"),
        ("coordination", "coordination-ink"),
        ("communication", "communication-ink"),
        ("pilotage", "pilotage-ink"),
        ("cabinet", "cabinet-ink"),
    ];
    let (hue, saturation, _) = to_hsl(primary);
    let saturation = saturation.clamp(0.45, 0.7);
    NAMES
        .iter()
        .enumerate()
        .map(|(index, (name, ink_name))| {
            // Starting a tenth of a turn away keeps the first apart from
            // the primary itself, which colours the rest of the card.
            let turn = (hue + 0.1 + index as f64 / 5.0).fract();
            let color = from_hsl(turn, saturation, 0.45);
            (*name, color, (*ink_name, text_on(&[color])))
        })
        .collect()
}

/// White or the dark ink, whichever reads on every one of `grounds`
/// (white first: the brand's grounds are most often dark).
fn text_on(grounds: &[[u8; 3]]) -> [u8; 3] {
    let white = [255, 255, 255];
    let ink = [0x1D, 0x27, 0x33];
    let worst = |text: [u8; 3]| {
        grounds
            .iter()
            .map(|ground| ratio(text, *ground))
            .fold(f64::INFINITY, f64::min)
    };
    if worst(white) >= NORMAL || worst(white) >= worst(ink) {
        white
    } else {
        ink
    }
}

/// A TOML string, as the serializer writes it: quotes, backslashes and
/// brackets stay inside it.
pub fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML key, as the serializer writes it: bare when it can be, quoted
/// and escaped otherwise (a template's field may be named anything).
pub fn key(name: &str) -> String {
    let mut table = toml::Table::new();
    table.insert(name.to_owned(), toml::Value::Boolean(true));
    toml::to_string(&table)
        .ok()
        .and_then(|line| line.strip_suffix(" = true\n").map(str::to_owned))
        .filter(|key| !key.contains('\n'))
        .unwrap_or_else(|| quoted(name))
}

/// Whether a character would break a line, or hide in one: C0 and C1
/// controls (tab included), DEL, and the Unicode line and paragraph
/// separators.
fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A text for a `#` comment: on one line, whatever it holds.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if breaks_a_line(c) { ' ' } else { c })
        .collect()
}

/// The name of a new project, refused when it holds a line break or
/// another control character: it goes into the configuration, the page's
/// title, the calendar's name and every message.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(c) = name.chars().find(|c| breaks_a_line(*c)) else {
        return Ok(());
    };
    let shown: String = name
        .chars()
        .map(|c| {
            if breaks_a_line(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let what = match c {
        '\n' => "U+000A, un retour à la ligne".to_owned(),
        '\r' => "U+000D, un retour chariot".to_owned(),
        '\t' => "U+0009, une tabulation".to_owned(),
        c => format!("U+{:04X}", u32::from(c)),
    };
    Err(format!(
        "le nom « {shown} » contient un retour à la ligne ou un caractère de contrôle : {what} ; donnez un nom sur une seule ligne"
    ))
}

/// The file name of the logo, under `assets/logos/`.
pub fn logo_name(init: &Init) -> String {
    match &init.logo {
        Some((name, _)) => name.clone(),
        None => "logo.png".to_owned(),
    }
}

/// `config/crieur.toml` of a new project.
pub fn config(init: &Init, palette: &Palette) -> String {
    // Every value given by the user (name, colours, zone, logo) goes
    // through the TOML serializer: nothing in it can end a string or a
    // line.
    let mut colors = String::new();
    for (name, color) in &palette.colors {
        colors.push_str(&format!("{} = {}\n", key(name), quoted(&hex(*color))));
    }
    format!(
        r##"# Configuration de crieur : la marque, la série de posts et les comptes où
# ils partent. Les lignes qui commencent par # sont des commentaires :
# crieur ne les lit pas. Après chaque modification, lancez `crieur check`.

# Le fuseau horaire : les dates et heures des posts et des séries sont
# des heures de ce fuseau (heure d'été et d'hiver comprises).
timezone = {zone}

# La marque, que portent toutes les images.
[brand]
# Le nom de la structure, tel qu'il s'affiche.
name = {name}
# Le logo posé sur chaque image : un fichier PNG du dossier assets/.
# Pour le changer, déposez le vôtre dans assets/logos/ et mettez son nom
# ici (par exemple "logos/mon-logo.png").
logo = {logo}

# Les polices d'écriture, que les modèles d'image appellent par ces noms :
# des fichiers du dossier assets/fonts/.
[brand.fonts]
display = "Lato-Black.ttf"
heading = "Lato-Bold.ttf"
body = "Inter-Regular.otf"
strong = "Inter-SemiBold.otf"

# Les couleurs de la charte, que les modèles d'image appellent par ces
# noms, en "#RRGGBB". Pour en changer une, remplacez son code. `crieur
# check` refuse un texte qui ne se détache pas assez de ce qui est
# dessous (RGAA, critère 3.2) et propose les couleurs proches qui
# conviennent.
[brand.colors]
{colors}
# Une série : des posts du même modèle, publiés à heures fixes. Ici, le
# chiffre de la semaine, chaque mardi à 19 h. Ses posts sont les fichiers
# de posts/ qui portent series = "chiffre-de-la-semaine" ; ils prennent
# ses créneaux libres dans l'ordre de leurs noms (`crieur new` les écrit).
[series.chiffre-de-la-semaine]
# Le nom de la série, tel qu'il s'affiche.
name = "Le chiffre de la semaine"
# Le modèle d'image de ses posts : un fichier de assets/templates/.
template = "chiffre"
# Quand ses posts partent : minute, heure, jour du mois, mois, jour de la
# semaine (* : tous). "0 19 * * tue" : le mardi à 19 h 00 ;
# "30 12 * * mon,thu" : le lundi et le jeudi à 12 h 30.
cron = "0 19 * * tue"
# Les comptes où ses posts partent : des noms de la partie [channels].
channels = ["facebook", "linkedin", "instagram"]
# Les hashtags ajoutés à la fin de chaque légende.
hashtags = ["#ChiffreDeLaSemaine"]

# Les comptes où partent les posts, un par réseau. `network` dit le réseau
# (facebook, instagram, linkedin, x, mastodon, bluesky ou threads), `name`
# le nom que crieur affiche. Pour retirer un compte, supprimez sa partie
# et son nom dans les `channels` des séries.
[channels.facebook]
network = "facebook"
name = "Page Facebook"

[channels.linkedin]
network = "linkedin"
name = "Page LinkedIn"

[channels.instagram]
network = "instagram"
name = "Compte Instagram"

# Où vont les posts prêts à partir : pour l'instant dans la boîte d'envoi,
# le dossier outbox/. Une fois un compte Buffer ouvert, mettez
# kind = "buffer" et complétez comme l'explique la documentation de crieur
# (docs/reference.md, commande `crieur publish`).
[publisher]
kind = "outbox"
"##,
        name = quoted(&init.name),
        zone = quoted(init.timezone.name()),
        logo = quoted(&format!("logos/{}", logo_name(init))),
    )
}

/// Two example posts of the weekly series, from the CPAM 2020 report and
/// Mon Espace Santé's figures.
const EXAMPLES: [(&str, &str); 2] = [
    (
        EXAMPLE_CAPTIONS[0].0,
        concat!(
            r#"+++
series = "chiffre-de-la-semaine"
alt = "Visuel « Le chiffre de la semaine » : 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé."

[visual]
number = "65,4 millions"
caption = "C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé."
source = "Assurance Maladie"
+++
"#,
            example_caption!(espace),
            "\n"
        ),
    ),
    (
        EXAMPLE_CAPTIONS[1].0,
        concat!(
            r#"+++
series = "chiffre-de-la-semaine"
alt = "Visuel « Le chiffre de la semaine » : près de 8 % des consultations se sont faites à distance en 2020."

[visual]
number = "8 %"
caption = "C'est la part des consultations faites en téléconsultation en 2020, contre moins de 1 % en 2019."
source = "CPAM des Alpes-Maritimes, rapport 2020"
+++
"#,
            example_caption!(teleconsultations),
            "\n"
        ),
    ),
];

const GITIGNORE: &str = "# What crieur makes, not what you write.\n/state/\n/out/\n/outbox/\n";

/// Every file of a new project, but the logo when it is to be drawn.
pub fn project_files(init: &Init, palette: &Palette) -> Vec<File> {
    let mut files: Vec<File> = vec![
        (
            "config/crieur.toml".to_owned(),
            config(init, palette).into_bytes(),
        ),
        (".gitignore".to_owned(), GITIGNORE.as_bytes().to_vec()),
    ];
    for (id, text) in TEMPLATES {
        files.push((
            format!("assets/templates/{id}.toml"),
            text.as_bytes().to_vec(),
        ));
    }
    for (path, bytes) in BINARIES {
        files.push((path.to_owned(), bytes.to_vec()));
    }
    for (path, text) in EXAMPLES {
        files.push((path.to_owned(), text.as_bytes().to_vec()));
    }
    if let Some((name, bytes)) = &init.logo {
        files.push((format!("assets/logos/{name}"), bytes.clone()));
    }
    files
}

/// The initials a drawn logo shows: those of the place the name names (up
/// to three words), its significant words. Left out: linking words, « CPTS »
/// and the words every such structure shares (« Santé », « Communauté »,
/// « Agglomération »…), then a bare direction (« Sud », « Nord »…) when a
/// place remains: « CPTS Sud Alsace » gives « A », not « SA », which reads
/// as « société anonyme ».
pub fn initials(name: &str) -> String {
    const LINKING: &[&str] = &[
        "de", "du", "des", "la", "le", "les", "et", "d", "l", "en", "sur", "au", "aux",
    ];
    const GENERIC: &[&str] = &[
        "cpts",
        "communauté",
        "communaute",
        "professionnelle",
        "professionnelles",
        "territoriale",
        "territoriales",
        "santé",
        "sante",
        "agglomération",
        "agglomeration",
        "agglo",
        "pays",
        "territoire",
        "secteur",
        "bassin",
        "métropole",
        "metropole",
    ];
    const DIRECTIONS: &[&str] = &["nord", "sud", "est", "ouest", "centre"];
    let words: Vec<&str> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !LINKING.contains(&w.to_lowercase().as_str()))
        .collect();
    let keep = |skipped: &[&str], words: &[&str]| -> Vec<String> {
        words
            .iter()
            .filter(|w| !skipped.contains(&w.to_lowercase().as_str()))
            .map(|w| (*w).to_owned())
            .collect()
    };
    let significant = keep(GENERIC, &words);
    let places = keep(
        DIRECTIONS,
        &significant.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let chosen = [
        places,
        significant,
        words.iter().map(|w| (*w).to_owned()).collect(),
    ]
    .into_iter()
    .find(|words| !words.is_empty())
    .unwrap_or_default();
    let letters: String = chosen
        .iter()
        .take(3)
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "C".to_owned()
    } else {
        letters
    }
}

/// The template and post that draw a logo: the initials in white on a disc
/// of the primary colour.
pub fn logo_sources(name: &str) -> (String, String) {
    let template = r#"name = "Logo"
[fields.initials]
label = "Initiales"
required = true

[[formats.carre.layers]]
kind = "rect"
x = 0
y = 0
width = 1080
height = 1080
radius = 540
color = "primary"

[[formats.carre.layers]]
kind = "text"
field = "initials"
x = 140
y = 290
width = 800
height = 500
font = "display"
color = "white"
align = "center"
valign = "middle"
min_size = 120
max_size = 460
max_lines = 1
"#
    .to_owned();
    let post = format!(
        "+++\ntemplate = \"logo\"\n[visual]\ninitials = {}\n+++\nLogo.\n",
        quoted(&initials(name))
    );
    (template, post)
}

/// How long a field's text may be, as the first format lays it out: a
/// rough count of characters and the number of lines.
fn room(template: &Template, field: &str) -> Option<String> {
    let layers = template.formats.values().next()?;
    layers.iter().find_map(|layer| match &layer.kind {
        LayerKind::Text(text)
            if text
                .text
                .iter()
                .any(|pattern| placeholders(pattern.get_ref()).contains(&field)) =>
        {
            let per_line = (text.rect.width / (text.min_size * 0.5)).floor().max(1.0) as usize;
            let lines = text.max_lines.max(1);
            let plural = if lines > 1 { "s" } else { "" };
            Some(format!(
                "environ {} caractères au plus ({lines} ligne{plural})",
                per_line * lines
            ))
        }
        _ => None,
    })
}

/// What a field expects, for the comment beside it.
fn expects(template: &Template, name: &str) -> String {
    let Some(field) = template.fields.get(name) else {
        return String::new();
    };
    let mut parts = vec![field.label.clone()];
    match &field.kind {
        FieldKind::Text => {}
        FieldKind::Choice(choices) => parts.push(format!(
            "une valeur parmi : {}",
            choices
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        FieldKind::List(choices) => parts.push(format!(
            "une liste de valeurs parmi : {}",
            choices
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    if field.required {
        parts.push("obligatoire".to_owned());
    } else if let Some(default) = &field.default {
        parts.push(format!("facultatif, « {default} » par défaut"));
    } else {
        parts.push("facultatif".to_owned());
    }
    parts.extend(room(template, name));
    parts.join(" ; ")
}

/// Fields that name a post, which `--title` fills.
const TITLE_FIELDS: &[&str] = &["title", "titre", "tool", "name", "nom"];

/// The field `--title` fills: the text field that names the post, if the
/// template has one, or else its first text field (`fields` in the
/// template's order).
fn titled_field<'f>(template: &Template, fields: &[&'f String]) -> Option<&'f str> {
    let text = |name: &&&String| matches!(template.fields[name.as_str()].kind, FieldKind::Text);
    fields
        .iter()
        .filter(text)
        .find(|name| TITLE_FIELDS.contains(&name.as_str()))
        .or_else(|| fields.iter().find(text))
        .copied()
        .map(String::as_str)
}

/// What `new` is asked to write.
#[derive(Debug, Clone)]
pub enum NewPost<'a> {
    /// The next post of a series.
    Series(&'a Series),
    /// A one-off post at a given instant, on every channel.
    OneOff {
        at: DateTime<Tz>,
        channels: Vec<String>,
    },
}

/// The text of a new post, each field of its template to fill in. Fields
/// come in the order the template declares them (`order`: the template's
/// source, when known).
pub fn post_text(
    kind: &NewPost<'_>,
    template: &Template,
    title: Option<&str>,
    order: Option<&str>,
) -> String {
    let mut out = String::from("+++\n");
    match kind {
        NewPost::Series(series) => out.push_str(&format!("series = {}\n", quoted(&series.id))),
        NewPost::OneOff { at, channels } => {
            out.push_str(&format!("template = {}\n", quoted(&template.id)));
            out.push_str(&format!(
                "publish_at = {}\n",
                at.format("%Y-%m-%dT%H:%M:%S")
            ));
            let list: Vec<String> = channels.iter().map(|c| quoted(c)).collect();
            out.push_str(&format!("channels = [{}]\n", list.join(", ")));
        }
    }
    out.push_str("# Ce que montre l'image, pour les personnes qui ne la voient pas : son texte\n# principal compris (1 500 caractères au plus).\nalt = \"\"\n\n[visual]\n");
    let mut fields: Vec<&String> = template.fields.keys().collect();
    if let Some(source) = order {
        fields.sort_by_key(|name| {
            source
                .find(&format!("[fields.{name}]"))
                .unwrap_or(usize::MAX)
        });
    }
    let titled = titled_field(template, &fields);
    for name in fields {
        let field = &template.fields[name];
        let value = match (&field.kind, title) {
            (FieldKind::List(_), _) => "[]".to_owned(),
            (FieldKind::Text, Some(title)) if Some(name.as_str()) == titled => quoted(title),
            _ => "\"\"".to_owned(),
        };
        // An optional field left as a comment keeps its default.
        let prefix = if field.required || Some(name.as_str()) == titled {
            ""
        } else {
            "# "
        };
        out.push_str(&format!(
            "# {}\n{prefix}{} = {value}\n",
            comment(&expects(template, name)),
            key(name)
        ));
    }
    out.push_str(&format!("+++\n{NEW_CAPTION}\n"));
    out
}

/// How long a file name made from a title may be, in characters.
const SLUG_LENGTH: usize = 60;

/// How long a file name made from a title of a single word may be: such a
/// word is cut there, as no file name should be longer.
const WORD_LENGTH: usize = 120;

/// A file name from a title: lower case, unaccented, words joined by `-`.
/// A long title is cut between two words, never inside a word nor inside
/// a number written in groups (« 4 000 », « 65,4 »).
pub fn slug(title: &str) -> String {
    let mut plain = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        let letters = match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' | 'ì' => "i",
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
            'ù' | 'û' | 'ü' | 'ú' => "u",
            'ÿ' => "y",
            'ç' => "c",
            'ñ' => "n",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() => {
                plain.push(c);
                continue;
            }
            _ => "-",
        };
        plain.push_str(letters);
    }
    let mut slug = String::new();
    for unit in units(&plain) {
        if !slug.is_empty() && slug.len() + 1 + unit.len() > SLUG_LENGTH {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&unit);
    }
    slug.truncate(WORD_LENGTH);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "nouveau-post".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The words of a plain text joined by `-`, a number's groups kept
/// together: `pres-de-4-000-patients` gives `pres`, `de`, `4-000` and
/// `patients`.
fn units(plain: &str) -> Vec<String> {
    let mut units: Vec<String> = Vec::new();
    let mut after_digits = false;
    for word in plain.split('-').filter(|word| !word.is_empty()) {
        let digits = word.chars().all(|c| c.is_ascii_digit());
        match units.last_mut() {
            Some(unit) if digits && after_digits => {
                unit.push('-');
                unit.push_str(word);
            }
            _ => units.push(word.to_owned()),
        }
        after_digits = digits;
    }
    units
}

/// Whether a file name starts with a date, `2026-12-01-…`: the name of a
/// one-off post, not a number.
fn dated(name: &str) -> bool {
    let bytes = name.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), None | Some(b'-' | b'.'))
}

/// The number a file name starts with, `03-…` or `03.md` (3, written
/// with 2 digits), if it is numbered.
fn numbered(name: &str) -> Option<(usize, usize)> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || dated(name) || !matches!(name.as_bytes().get(digits), Some(b'-' | b'.')) {
        return None;
    }
    Some((name[..digits].parse().ok()?, digits))
}

/// The next file name in a folder whose posts are numbered `01-…`: one
/// more than the highest number the `existing` file names start with
/// (whatever number the title holds), as wide as theirs.
pub fn next_name(existing: &[String], title: Option<&str>) -> String {
    let numbers: Vec<(usize, usize)> = existing.iter().filter_map(|name| numbered(name)).collect();
    let next = numbers
        .iter()
        .map(|(n, _)| n.saturating_add(1))
        .max()
        .unwrap_or(1);
    let width = numbers.iter().map(|(_, w)| *w).max().unwrap_or(2);
    format!("{next:0width$}-{}.md", slug(title.unwrap_or("")))
}

/// A new post's text with its instant written as `publish_at`, after its
/// first line (`series = …` or `template = …`).
pub fn with_publish_at(text: &str, at: DateTime<Tz>) -> String {
    let line = format!("publish_at = {}\n", at.format("%Y-%m-%dT%H:%M:%S"));
    let split = text
        .strip_prefix("+++\n")
        .and_then(|rest| rest.find('\n'))
        .map_or(0, |end| "+++\n".len() + end + 1);
    format!("{}{line}{}", &text[..split], &text[split..])
}

/// The series' folder under `posts/`: where most of its posts are, or its
/// id.
pub fn series_folder(config: &Config, posts: &[crate::post::Post], series: &str) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for post in posts {
        if post.series.as_ref().is_some_and(|s| s.get_ref() == series) {
            let folder = post.id.rsplit_once('/').map_or("", |(folder, _)| folder);
            *counts.entry(folder.to_owned()).or_default() += 1;
        }
    }
    let _ = config;
    counts
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .map_or_else(|| series.to_owned(), |(folder, _)| folder)
}

/// Instant to `DateTime<Utc>`, for plans.
pub fn utc(at: DateTime<Tz>) -> DateTime<Utc> {
    at.with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_brand_s_colours_are_kept_and_texts_chosen_to_read_on_them() {
        // Plum and gold.
        let plum = [0x7A, 0x1F, 0x5C];
        let gold = [0xF2, 0xB7, 0x05];
        let brand = palette(plum, gold);
        let get = |name: &str| brand.colors.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!((get("primary"), get("accent")), (plum, gold));
        assert_eq!(get("primary-ink"), [255; 3]);
        // Dark text on gold; gold as text on plum; plum for figures on
        // paper, where gold does not read.
        assert_eq!(get("accent-ink"), [0x1D, 0x27, 0x33]);
        assert_eq!(get("accent-on-primary"), gold);
        assert_eq!(get("highlight"), plum);
        assert_eq!(get("primary-text"), plum);
        assert_eq!(brand.notes.len(), 1, "{:?}", brand.notes);
        for (name, ink) in [
            ("medical", "medical-ink"),
            ("coordination", "coordination-ink"),
            ("communication", "communication-ink"),
            ("pilotage", "pilotage-ink"),
            ("cabinet", "cabinet-ink"),
        ] {
            assert!(ratio(get(ink), get(name)) >= NORMAL, "{name}");
        }
        // Pale colours are kept too: dark text goes on them, and the
        // brand's name takes a darker shade, as small text.
        let pale = palette([0xFF, 0xE0, 0x66], [0xFF, 0xB0, 0xC0]);
        let get = |name: &str| pale.colors.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(get("primary"), [0xFF, 0xE0, 0x66]);
        assert_eq!(get("primary-ink"), [0x1D, 0x27, 0x33]);
        assert!(ratio(get("primary-text"), get("mist")) >= NORMAL);
        assert!(ratio(get("highlight"), [255; 3]) >= LARGE);
        assert!(ratio(get("accent-on-primary"), get("primary")) >= LARGE);
        // The default brand's colours go everywhere as they are.
        let kept = palette(
            parse_colour(DEFAULT_PRIMARY).unwrap(),
            parse_colour(DEFAULT_ACCENT).unwrap(),
        );
        assert!(kept.notes.is_empty(), "{:?}", kept.notes);
    }

    #[test]
    fn a_project_may_ask_for_derived_categories_and_keeps_those_it_names() {
        let text = "timezone = \"Europe/Paris\"\n[brand]\nname = \"CPTS\"\ncategories = \"derived\"\n[brand.colors]\nprimary = \"#7A1F5C\"\nmedical = \"#C8471B\"\n[publisher]\nkind = \"outbox\"\n";
        let (config, diagnostics) = crate::config::Config::parse(text, "config/crieur.toml");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let mut brand = config.unwrap().brand;
        derive_categories(&mut brand);
        let get = |name: &str| parse_colour(brand.colors[name].get_ref()).unwrap();
        assert_eq!(get("medical"), [0xC8, 0x47, 0x1B]);
        let derived = categories([0x7A, 0x1F, 0x5C]);
        assert_eq!(get("pilotage"), derived[3].1);
        assert!(ratio(get("pilotage-ink"), get("pilotage")) >= NORMAL);
        let (_, diagnostics) = crate::config::Config::parse(
            &text.replace("\"derived\"", "\"oui\""),
            "config/crieur.toml",
        );
        assert!(diagnostics[0].message.contains("valeur inconnue `oui`"));
    }

    fn init(name: &str) -> Init {
        Init {
            name: name.to_owned(),
            primary: [0x1F, 0x4E, 0x79],
            accent: [0xC5, 0x4B, 0x1A],
            timezone: chrono_tz::Europe::Paris,
            logo: None,
        }
    }

    #[test]
    fn a_name_stays_inside_its_toml_string() {
        let colours = palette([0x1F, 0x4E, 0x79], [0xC5, 0x4B, 0x1A]);
        for name in [
            "CPTS \"Nord\" [test]",
            "CPTS'''\"\"\"\\ # [publisher]",
            "CPTS\n[publisher]\nkind = \"buffer\"",
            "CPTS\r\n[daemon]\ngrace = \"366d\"",
        ] {
            let text = config(&init(name), &colours);
            let table: toml::Table = text.parse().expect(&text);
            assert_eq!(table["brand"]["name"].as_str(), Some(name), "{text}");
            assert_eq!(table["publisher"]["kind"].as_str(), Some("outbox"));
            assert!(!table.contains_key("daemon"), "{text}");
        }
    }

    #[test]
    fn a_name_with_a_line_break_or_a_control_is_refused() {
        assert!(check_name("CPTS \"Nord\" [test]").is_ok());
        assert!(check_name("Santé Val d'Oise").is_ok());
        for name in [
            "a\nb",
            "a\rb",
            "a\0b",
            "a\u{1b}b",
            "a\u{85}b",
            "a\u{2028}b",
            "a\tb",
        ] {
            let error = check_name(name).unwrap_err();
            assert!(
                error.contains("contient un retour à la ligne ou un caractère de contrôle"),
                "{error}"
            );
            assert!(!error.chars().any(breaks_a_line), "{error:?}");
        }
    }

    #[test]
    fn a_template_s_names_and_labels_stay_in_their_place_in_a_new_post() {
        let (logo, _) = logo_sources("CPTS");
        let text = logo.replace(
            "label = \"Initiales\"",
            "label = \"Initiales\\n[publisher]\\nkind = 1\"",
        ) + "\n[fields.\"a = 1\\n[x]\"]\nlabel = \"Autre\"\nrequired = true\n";
        let (template, problems) = Template::parse(&text, "t.toml", "t");
        let template = template.unwrap_or_else(|| panic!("{problems:?}"));
        assert_eq!(template.fields.len(), 2);
        let at = chrono_tz::Europe::Paris
            .with_ymd_and_hms(2026, 12, 1, 19, 0, 0)
            .unwrap();
        let kind = NewPost::OneOff {
            at,
            channels: vec!["facebook".to_owned()],
        };
        let post = post_text(&kind, &template, Some("Titre\n[x]"), None);
        let front = post
            .strip_prefix("+++\n")
            .and_then(|rest| rest.split_once("+++\n"))
            .map(|(front, _)| front)
            .unwrap();
        let table: toml::Table = front.parse().expect(front);
        let keys: Vec<&String> = table.keys().collect();
        assert_eq!(
            keys,
            ["alt", "channels", "publish_at", "template", "visual"]
        );
        let visual = table["visual"].as_table().unwrap();
        assert!(visual.contains_key("a = 1\n[x]"), "{post}");
    }

    #[test]
    fn names_files_and_initials() {
        assert_eq!(
            slug("Le DMP : 240 008 dossiers !"),
            "le-dmp-240-008-dossiers"
        );
        assert_eq!(slug("Éducation thérapeutique"), "education-therapeutique");
        assert_eq!(slug(""), "nouveau-post");
        let existing = vec![
            "01-dmp.md".to_owned(),
            "07-e-cps.md".to_owned(),
            "2026-12-01-mes.md".to_owned(),
        ];
        assert_eq!(
            next_name(&existing, Some("La vaccination")),
            "08-la-vaccination.md"
        );
        assert_eq!(next_name(&[], None), "01-nouveau-post.md");
        assert_eq!(initials("CPTS du Grand Nancy"), "GN");
        assert_eq!(initials("CPTS"), "C");
        assert_eq!(initials("Santé Val d'Oise"), "VO");
        assert_eq!(initials("CPTS Sud Alsace"), "A");
        assert_eq!(initials("CPTS Mulhouse Agglomération"), "M");
        assert_eq!(initials("CPTS Sud"), "S");
        assert_eq!(
            initials("Communauté Professionnelle Territoriale de Santé"),
            "CPT"
        );
    }

    #[test]
    fn the_number_comes_from_the_file_names_never_from_the_title() {
        let mut existing = vec![
            "01-mon-espace-sante.md".to_owned(),
            "02-teleconsultations.md".to_owned(),
        ];
        let first = next_name(&existing, Some("70 % des généralistes"));
        assert_eq!(first, "03-70-des-generalistes.md");
        existing.push(first);
        let second = next_name(&existing, Some("32 000 e-CPS"));
        assert_eq!(second, "04-32-000-e-cps.md");
        existing.push(second);
        // Dates are not numbers; a bare number is one.
        existing.extend([
            "2026-12-01-soiree.md".to_owned(),
            "2026-12-02.md".to_owned(),
            "05.md".to_owned(),
        ]);
        assert_eq!(
            next_name(&existing, Some("2027 en chiffres")),
            "06-2027-en-chiffres.md"
        );
        assert_eq!(
            next_name(&["9-a.md".to_owned()], None),
            "10-nouveau-post.md"
        );
        assert_eq!(
            next_name(&["003-a.md".to_owned()], None),
            "004-nouveau-post.md"
        );
        assert_eq!(
            next_name(&["2026-12-01-a.md".to_owned()], Some("4 000")),
            "01-4-000.md"
        );
    }

    #[test]
    fn a_long_title_is_cut_between_words_never_inside_a_number() {
        let title = "Les médecins généralistes de la CPTS ont soigné près de 4 000 patients";
        assert_eq!(
            slug(title),
            "les-medecins-generalistes-de-la-cpts-ont-soigne-pres-de"
        );
        assert_eq!(
            slug("Près de 65,4 millions de profils"),
            "pres-de-65-4-millions-de-profils"
        );
        assert_eq!(slug("Cœur et santé"), "coeur-et-sante");
        // Wherever the limit falls, a word or a number is kept whole or
        // left out.
        for n in 1..=60 {
            let title = format!("{} près de 4 000 000 patients", "x".repeat(n));
            let cut = slug(&title);
            assert!(cut.len() <= SLUG_LENGTH, "{cut}");
            let full = format!("{}-pres-de-4-000-000-patients", "x".repeat(n));
            assert!(full == cut || full.starts_with(&format!("{cut}-")), "{cut}");
            assert!(!cut.contains('4') || cut.contains("4-000-000"), "{cut}");
            assert!(!cut.ends_with("-pre") && !cut.ends_with("-patie"), "{cut}");
        }
        // A single word too long for a file name is all there is to cut.
        assert_eq!(slug(&"a".repeat(300)).len(), WORD_LENGTH);
        assert_eq!(slug(&"b".repeat(70)), "b".repeat(70));
    }

    /// The front matter of a new post, read as TOML.
    fn front(post: &str) -> toml::Table {
        let front = post
            .strip_prefix("+++\n")
            .and_then(|rest| rest.split_once("+++\n"))
            .map(|(front, _)| front)
            .unwrap();
        front.parse().expect(front)
    }

    #[test]
    fn the_title_fills_the_title_field_or_else_the_first_text_field() {
        let at = chrono_tz::Europe::Paris
            .with_ymd_and_hms(2026, 12, 8, 19, 0, 0)
            .unwrap();
        let kind = NewPost::OneOff {
            at,
            channels: vec!["facebook".to_owned()],
        };
        for (id, source) in TEMPLATES {
            let (template, problems) = Template::parse(source, "t.toml", id);
            let template = template.unwrap_or_else(|| panic!("{problems:?}"));
            let post = post_text(&kind, &template, Some("32 000 e-CPS"), Some(source));
            let table = front(&post);
            let visual = table["visual"].as_table().unwrap();
            let filled: Vec<&String> = visual
                .iter()
                .filter(|(_, value)| value.as_str() == Some("32 000 e-CPS"))
                .map(|(name, _)| name)
                .collect();
            let expected = match id {
                "chiffre" => "kicker",
                "outil" => "tool",
                _ => "title",
            };
            assert_eq!(filled, [expected], "{post}");
        }
    }

    #[test]
    fn an_instant_is_written_after_the_first_line() {
        let at = chrono_tz::Europe::Paris
            .with_ymd_and_hms(2026, 12, 8, 19, 0, 0)
            .unwrap();
        let text = "+++\nseries = \"s\"\nalt = \"\"\n+++\nLégende.\n";
        let pinned = with_publish_at(text, at);
        assert_eq!(
            pinned,
            "+++\nseries = \"s\"\npublish_at = 2026-12-08T19:00:00\nalt = \"\"\n+++\nLégende.\n"
        );
        assert!(front(&pinned)["publish_at"].is_datetime());
    }

    #[test]
    fn the_configuration_is_explained_in_french() {
        let colours = palette([0x1F, 0x4E, 0x79], [0xC5, 0x4B, 0x1A]);
        let text = config(&init("CPTS du Grand Nancy"), &colours);
        let table: toml::Table = text.parse().expect(&text);
        for key in ["timezone", "brand", "series", "channels", "publisher"] {
            assert!(table.contains_key(key), "{key}");
        }
        let comments: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix('#'))
            .collect();
        assert!(comments.len() > 20, "{text}");
        for comment in &comments {
            let words = format!(" {} ", comment.to_lowercase());
            for english in [
                " the ",
                " of ",
                " and ",
                " to ",
                " is ",
                " its ",
                " every ",
                " where ",
                " until ",
                " colours ",
                " refer ",
                " by ",
                " name ",
                " under ",
            ] {
                assert!(!words.contains(english), "{english:?} in {comment:?}");
            }
        }
        // Each setting an officer changes says what it does.
        for key in [
            "timezone",
            "logo",
            "cron",
            "channels",
            "hashtags",
            "[publisher]",
        ] {
            let line = text.lines().position(|line| line.starts_with(key)).unwrap();
            assert!(
                text.lines().nth(line - 1).unwrap().starts_with('#'),
                "{key}: {text}"
            );
        }
    }
}
