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
use crate::contrast::{LARGE, NORMAL, hex, nearest_passing, ratio};
use crate::template::{FieldKind, LayerKind, Template, placeholders};

/// One file of a new project: its path under the project and its bytes.
pub type File = (String, Vec<u8>);

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

/// The colours every template names, readable wherever they are used:
/// white text on the primary and the accent (4.5:1), the accent as large
/// text on white (3:1), the light accent as text on the primary (4.5:1).
pub fn palette(primary: [u8; 3], accent: [u8; 3]) -> Palette {
    let white = [255, 255, 255];
    let ink = [0x1D, 0x27, 0x33];
    let mut notes = Vec::new();
    let mut readable = |name: &str, color: [u8; 3], against: [u8; 3], needed: f64| {
        let fixed = nearest_passing(color, against, needed);
        if fixed != color {
            notes.push(format!(
                "couleur {name} {} ajustée en {} : le texte posé dessus doit atteindre un contraste de {} (RGAA)",
                hex(color),
                hex(fixed),
                crate::contrast::format(needed)
            ));
        }
        fixed
    };
    let mut primary = readable("principale", primary, white, NORMAL);
    // The primary is also text on its own light tint (`mist`).
    let mut mist = mix(primary, white, 0.94);
    for _ in 0..8 {
        if ratio(primary, mist) >= NORMAL {
            break;
        }
        primary = nearest_passing(primary, mist, NORMAL);
        mist = mix(primary, white, 0.94);
    }
    let accent = readable("d'accent", accent, white, NORMAL);
    let deep = mix(primary, [0, 0, 0], 0.25);
    let accent_light = nearest_passing(mix(accent, white, 0.4), primary, NORMAL);
    debug_assert!(ratio(accent, white) >= LARGE);
    Palette {
        colors: vec![
            ("primary", primary),
            ("accent", accent),
            ("accent-light", accent_light),
            ("deep", deep),
            ("ink", ink),
            ("muted", [0x5B, 0x66, 0x75]),
            ("paper", white),
            ("mist", mist),
            ("white", white),
            ("medical", [0xC8, 0x47, 0x1B]),
            ("coordination", [0xF2, 0x9F, 0x3D]),
            ("communication", [0x2F, 0x7D, 0x3B]),
            ("pilotage", [0x5A, 0xAF, 0xD9]),
            ("cabinet", [0x1D, 0x7F, 0x77]),
            ("medical-ink", white),
            ("coordination-ink", ink),
            ("communication-ink", white),
            ("pilotage-ink", ink),
            ("cabinet-ink", white),
        ],
        notes,
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
        r##"# crieur configuration: the brand, its series and channels.
# Times in posts and timetables are local times of this zone.
timezone = {zone}

[brand]
name = {name}
# The logo drawn on every image, a PNG under assets/.
logo = {logo}

# Fonts the templates refer to by name, files of assets/fonts/.
[brand.fonts]
display = "Lato-Black.ttf"
heading = "Lato-Bold.ttf"
body = "Inter-Regular.otf"
strong = "Inter-SemiBold.otf"

# Colours the templates refer to by name. `crieur check` refuses a text
# that does not stand out from what lies beneath it (RGAA 3.2).
[brand.colors]
{colors}
# The weekly figure, every Tuesday at 19:00.
[series.chiffre-de-la-semaine]
name = "Le chiffre de la semaine"
template = "chiffre"
cron = "0 19 * * tue"
channels = ["facebook", "linkedin", "instagram"]
hashtags = ["#ChiffreDeLaSemaine"]

[channels.facebook]
network = "facebook"
name = "Page Facebook"

[channels.linkedin]
network = "linkedin"
name = "Page LinkedIn"

[channels.instagram]
network = "instagram"
name = "Compte Instagram"

# Where queued posts go: the outbox, a folder, until a Buffer account is
# set up (see crieur's docs/reference.md).
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
        "posts/chiffre/01-mon-espace-sante.md",
        r#"+++
series = "chiffre-de-la-semaine"
alt = "Visuel « Le chiffre de la semaine » : 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé."

[visual]
number = "65,4 millions"
caption = "C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé."
source = "Assurance Maladie"
+++
Aujourd'hui, près de 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé, le carnet de santé numérique de l'Assurance Maladie.

Ordonnances, comptes rendus, vaccinations : tout y est réuni, et c'est vous qui choisissez avec quels professionnels de santé le partager.
"#,
    ),
    (
        "posts/chiffre/02-teleconsultations.md",
        r#"+++
series = "chiffre-de-la-semaine"
alt = "Visuel « Le chiffre de la semaine » : près de 8 % des consultations se sont faites à distance en 2020."

[visual]
number = "8 %"
caption = "C'est la part des consultations faites en téléconsultation en 2020, contre moins de 1 % en 2019."
source = "CPAM des Alpes-Maritimes, rapport 2020"
+++
Avec la crise sanitaire, la téléconsultation est entrée dans les habitudes : près de 8 % des consultations se sont faites à distance en 2020, contre moins de 1 % l'année d'avant.

Elle ne remplace pas la consultation au cabinet, mais elle la complète : suivi d'une maladie chronique, renouvellement d'ordonnance, conseil rapide.
"#,
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

/// The initials a drawn logo shows: the first letters of the name's words
/// (up to three), leaving out short linking words and « CPTS ».
pub fn initials(name: &str) -> String {
    const SKIP: &[&str] = &[
        "de", "du", "des", "la", "le", "les", "et", "d", "l", "en", "sur",
    ];
    let mut words: Vec<&str> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !SKIP.contains(&w.to_lowercase().as_str()))
        .collect();
    // Every CPTS is one: the rest of the name tells this one apart.
    if words.len() > 1 {
        words.retain(|w| !w.eq_ignore_ascii_case("cpts"));
    }
    let letters: String = words
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
    // The title fills the field that names the post, if the template has
    // one.
    let titled = fields
        .iter()
        .find(|name| TITLE_FIELDS.contains(&name.as_str()))
        .map(|name| name.as_str());
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
    out.push_str("+++\nÉcrivez ici la légende du post.\n");
    out
}

/// A file name from a title: lower case, unaccented, words joined by `-`.
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'œ' => 'o',
            c => c,
        };
        if plain.is_ascii_alphanumeric() {
            slug.push(plain);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(60).collect();
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "nouveau-post".to_owned()
    } else {
        slug
    }
}

/// The next file name in a folder whose posts are numbered `01-…`.
pub fn next_name(existing: &[String], title: Option<&str>) -> String {
    let numbers: Vec<(usize, usize)> = existing
        .iter()
        .filter_map(|name| {
            let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
            let rest = &name[digits.len()..];
            // A date (2026-12-01-…) is not a number.
            (!digits.is_empty()
                && rest.starts_with('-')
                && !rest[1..].starts_with(|c: char| c.is_ascii_digit()))
            .then(|| Some((digits.parse().ok()?, digits.len())))
            .flatten()
        })
        .collect();
    let next = numbers.iter().map(|(n, _)| n + 1).max().unwrap_or(1);
    let width = numbers.iter().map(|(_, w)| *w).max().unwrap_or(2);
    format!("{next:0width$}-{}.md", slug(title.unwrap_or("")))
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
    fn a_pale_colour_is_darkened_until_white_text_reads_on_it() {
        let pale = palette([0xFF, 0xE0, 0x66], [0xFF, 0xB0, 0xC0]);
        let get = |name: &str| pale.colors.iter().find(|(n, _)| *n == name).unwrap().1;
        assert!(ratio(get("primary"), [255; 3]) >= NORMAL);
        assert!(ratio(get("accent"), [255; 3]) >= NORMAL);
        assert!(ratio(get("accent-light"), get("primary")) >= NORMAL);
        assert_eq!(pale.notes.len(), 2, "{:?}", pale.notes);
        // Colours that pass are kept.
        let kept = palette(
            parse_colour(DEFAULT_PRIMARY).unwrap(),
            parse_colour(DEFAULT_ACCENT).unwrap(),
        );
        assert!(kept.notes.is_empty(), "{:?}", kept.notes);
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
        assert_eq!(initials("Santé Val d'Oise"), "SVO");
    }
}
