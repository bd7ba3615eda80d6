//! The project the benchmarks measure: the repository's configuration and
//! assets, and posts made up the same way every time.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};

use crate::copy::copy_dir;

/// Writes into `root` a project of `posts` posts, with the configuration
/// and assets of `repo`: half fill the weekly series, half are dated, one
/// an hour from 1 December 2026, spread over two channels.
///
/// # Panics
///
/// When a file cannot be written.
pub fn generated_project(repo: &Path, root: &Path, posts: usize) {
    copy_dir(&repo.join("config"), &root.join("config"));
    copy_dir(&repo.join("assets"), &root.join("assets"));
    for folder in ["posts/serie", "posts/dates"] {
        std::fs::create_dir_all(root.join(folder)).expect("a posts folder");
    }
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 0, 30, 0)
        .single()
        .expect("a valid instant");
    for index in 0..posts {
        let mut text = String::from("+++\n");
        let folder = if index % 2 == 0 {
            text.push_str("series = \"chiffre-de-la-semaine\"\n");
            "serie"
        } else {
            let at = start + Duration::hours(index as i64);
            let channel = if index % 4 == 1 {
                "facebook"
            } else {
                "linkedin"
            };
            let _ = writeln!(
                text,
                "template = \"chiffre\"\nchannels = [\"{channel}\"]\npublish_at = {}",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            "dates"
        };
        let _ = write!(
            text,
            "[visual]\nnumber = \"{index} millions\"\ncaption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\nsource = \"Assurance Maladie, novembre 2022\"\n+++\n\
             Aujourd'hui, près de 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé (novembre 2022).\n\n\
             Qu'est-ce que Mon Espace Santé ? C'est un carnet de santé numérique qui permet aux patients de gérer leurs données de santé en un seul et même endroit.\n"
        );
        let path = root
            .join("posts")
            .join(folder)
            .join(format!("{index:05}.md"));
        std::fs::write(path, text).expect("a post written");
    }
}
