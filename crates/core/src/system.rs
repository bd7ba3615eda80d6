//! What the system and the image decoders report, said in French: a file
//! that cannot be read or written, a port already taken, a damaged PNG.
//! A common case gets a French phrase of its own; any other keeps the
//! system's text, but only as a detail in parentheses after a French one.
//! Nothing here touches the system: errors come in, text goes out.

use std::io::ErrorKind;
use std::net::SocketAddr;

/// An error of the system (a file, a folder, a connection), in French.
pub fn io_error(error: &std::io::Error) -> String {
    match io_phrase(error.kind()) {
        Some(phrase) => phrase.to_owned(),
        None => format!("erreur du système ({error})"),
    }
}

/// The French phrase of a common kind of system error.
fn io_phrase(kind: ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::NotFound => "fichier ou dossier introuvable",
        ErrorKind::PermissionDenied => "permission refusée",
        ErrorKind::AlreadyExists => "le fichier existe déjà",
        ErrorKind::AddrInUse => "adresse déjà utilisée par un autre programme",
        ErrorKind::AddrNotAvailable => "adresse indisponible sur cet ordinateur",
        ErrorKind::InvalidData => "données invalides",
        ErrorKind::UnexpectedEof => "fin de fichier inattendue : le fichier est tronqué",
        ErrorKind::IsADirectory => "c'est un dossier, pas un fichier",
        ErrorKind::NotADirectory => "un élément du chemin n'est pas un dossier",
        ErrorKind::DirectoryNotEmpty => "le dossier n'est pas vide",
        ErrorKind::StorageFull => "disque plein",
        ErrorKind::ReadOnlyFilesystem => "disque en lecture seule",
        ErrorKind::FileTooLarge => "fichier trop gros pour le système",
        ErrorKind::InvalidFilename => "nom de fichier invalide ou trop long",
        ErrorKind::CrossesDevices => "déplacement impossible d'un disque à un autre",
        ErrorKind::ResourceBusy => "fichier ou ressource occupé",
        ErrorKind::TimedOut => "délai dépassé",
        ErrorKind::ConnectionRefused => "connexion refusée",
        ErrorKind::ConnectionReset => "connexion coupée par l'autre côté",
        ErrorKind::ConnectionAborted => "connexion interrompue",
        ErrorKind::NotConnected => "connexion fermée",
        ErrorKind::HostUnreachable => "machine injoignable",
        ErrorKind::NetworkUnreachable | ErrorKind::NetworkDown => "réseau injoignable",
        ErrorKind::BrokenPipe => "le destinataire a fermé la communication",
        ErrorKind::Interrupted => "opération interrompue",
        ErrorKind::OutOfMemory => "mémoire insuffisante",
        ErrorKind::Unsupported => "opération non prise en charge par ce système",
        _ => return None,
    })
}

/// Why a server (the preview, the daemon's health) cannot listen at
/// `address`, in French, and what to change: `port_option` and
/// `address_option` name the options that choose another port and another
/// address (`--port` and `--bind` for the preview).
pub fn bind_error(
    error: &std::io::Error,
    address: SocketAddr,
    port_option: &str,
    address_option: &str,
) -> String {
    match error.kind() {
        ErrorKind::AddrInUse => format!(
            "adresse déjà utilisée : un autre programme écoute sur {address} ; choisissez un autre port avec {port_option}"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "adresse indisponible : {} n'est pas une adresse de cet ordinateur ; choisissez-en une autre avec {address_option}",
            address.ip()
        ),
        ErrorKind::PermissionDenied if address.port() < 1024 => format!(
            "permission refusée pour écouter sur {address} : les ports sous 1024 sont réservés à l'administrateur ; choisissez un autre port avec {port_option}"
        ),
        _ => format!("impossible d'écouter sur {address} : {}", io_error(error)),
    }
}

/// Why a PNG file cannot be decoded, in French.
pub fn png_error(error: &png::DecodingError) -> String {
    match error {
        png::DecodingError::IoError(error) if error.kind() == ErrorKind::UnexpectedEof => {
            "fichier PNG tronqué : la fin de l'image manque".to_owned()
        }
        png::DecodingError::IoError(error) => {
            format!("fichier PNG illisible ({})", io_error(error))
        }
        png::DecodingError::Format(format) => {
            format!(
                "fichier PNG illisible ({})",
                png_format(&format.to_string())
            )
        }
        png::DecodingError::Parameter(parameter) => {
            format!("fichier PNG illisible (erreur du décodeur : {parameter})")
        }
        png::DecodingError::LimitsExceeded => {
            "fichier PNG trop lourd à décoder (limite de mémoire dépassée)".to_owned()
        }
    }
}

/// What is wrong in the structure of a PNG file, from the decoder's text
/// (its cases are not public): the common ones in French, the others as
/// the decoder says them, after a French phrase.
fn png_format(text: &str) -> String {
    let known: &[(&str, &str)] = &[
        (
            "Invalid PNG signature",
            "ce n'est pas un PNG : sa signature manque ; une image d'un autre format, renommée en .png ?",
        ),
        (
            "CRC error",
            "somme de contrôle fausse : le fichier est abîmé",
        ),
        ("Corrupt deflate stream", "données compressées abîmées"),
        (
            "IDAT or fDAT chunk does not have enough data",
            "données de l'image incomplètes",
        ),
        (
            "IDAT or fdAT chunk is missing",
            "données de l'image absentes",
        ),
        ("Invalid image dimensions", "largeur ou hauteur nulle"),
        ("Missing palette", "palette de couleurs absente"),
        (
            "chunk appeared before IHDR",
            "en-tête de l'image absent ou mal placé",
        ),
    ];
    known
        .iter()
        .find(|(english, _)| text.contains(english))
        .map_or_else(
            || format!("structure invalide : {text}"),
            |(_, french)| (*french).to_owned(),
        )
}

/// Why an image cannot be decoded or encoded (the `image` crate's
/// errors), in French.
pub fn image_error(error: &image::ImageError) -> String {
    use image::ImageError;
    match error {
        ImageError::Decoding(decoding) => {
            let png = std::error::Error::source(decoding)
                .and_then(|source| source.downcast_ref::<png::DecodingError>());
            match png {
                Some(png) => png_error(png),
                None => format!(
                    "fichier {} illisible ({decoding})",
                    format_name(&decoding.format_hint())
                ),
            }
        }
        ImageError::Encoding(encoding) => format!("encodage de l'image impossible ({encoding})"),
        ImageError::Parameter(parameter) => {
            format!("image inutilisable (erreur du décodeur : {parameter})")
        }
        ImageError::Limits(_) => {
            "image trop lourde à décoder (limite de mémoire dépassée)".to_owned()
        }
        ImageError::Unsupported(_) => {
            "format d'image non pris en charge : enregistrez l'image en PNG".to_owned()
        }
        ImageError::IoError(error) if error.kind() == ErrorKind::UnexpectedEof => {
            "fichier image tronqué : la fin de l'image manque".to_owned()
        }
        ImageError::IoError(error) => format!("fichier image illisible ({})", io_error(error)),
    }
}

/// `PNG`, `JPEG`… as a message names an image's format.
fn format_name(hint: &image::error::ImageFormatHint) -> String {
    match hint {
        image::error::ImageFormatHint::Exact(format) => format
            .extensions_str()
            .first()
            .map_or_else(|| "image".to_owned(), |ext| ext.to_uppercase()),
        _ => "image".to_owned(),
    }
}

/// An error of any kind in French when it is one of the system's or the
/// image decoders' ([`io_error`], [`png_error`], [`image_error`]); `None`
/// for the others, whose text is crieur's own.
pub fn french(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(error) = error.downcast_ref::<std::io::Error>() {
        return Some(io_error(error));
    }
    if let Some(error) = error.downcast_ref::<png::DecodingError>() {
        return Some(png_error(error));
    }
    error.downcast_ref::<image::ImageError>().map(image_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words of the system's English that must not reach a person.
    const ENGLISH: &[&str] = &[
        "No such file",
        "denied",
        "os error",
        "Address",
        "already",
        "Invalid",
        "PNG signature",
        "failed",
        "buffer",
    ];

    fn assert_french(text: &str) {
        for word in ENGLISH {
            assert!(!text.contains(word), "{word:?} in {text:?}");
        }
    }

    #[test]
    fn common_system_errors_are_said_in_french_without_the_system_text() {
        let cases = [
            (ErrorKind::NotFound, "fichier ou dossier introuvable"),
            (ErrorKind::PermissionDenied, "permission refusée"),
            (ErrorKind::AlreadyExists, "le fichier existe déjà"),
            (
                ErrorKind::AddrInUse,
                "adresse déjà utilisée par un autre programme",
            ),
            (
                ErrorKind::AddrNotAvailable,
                "adresse indisponible sur cet ordinateur",
            ),
            (ErrorKind::InvalidData, "données invalides"),
            (
                ErrorKind::UnexpectedEof,
                "fin de fichier inattendue : le fichier est tronqué",
            ),
            (ErrorKind::IsADirectory, "c'est un dossier, pas un fichier"),
            (
                ErrorKind::NotADirectory,
                "un élément du chemin n'est pas un dossier",
            ),
            (ErrorKind::StorageFull, "disque plein"),
            (ErrorKind::ReadOnlyFilesystem, "disque en lecture seule"),
            (ErrorKind::TimedOut, "délai dépassé"),
            (ErrorKind::ConnectionRefused, "connexion refusée"),
            (ErrorKind::Interrupted, "opération interrompue"),
        ];
        for (kind, french) in cases {
            let error = std::io::Error::new(kind, "some English text from the system");
            assert_eq!(io_error(&error), french, "{kind:?}");
        }
        // As the system gives them, with their number.
        for (code, french) in [
            (2, "fichier ou dossier introuvable"),
            (13, "permission refusée"),
            (98, "adresse déjà utilisée par un autre programme"),
            (28, "disque plein"),
        ] {
            let error = std::io::Error::from_raw_os_error(code);
            if cfg!(target_os = "linux") {
                assert_eq!(io_error(&error), french, "{error}");
            }
            assert_french(&io_error(&error));
        }
    }

    #[test]
    fn other_system_errors_keep_the_system_text_as_a_detail() {
        let error = std::io::Error::other("quelque chose d'inattendu");
        assert_eq!(
            io_error(&error),
            "erreur du système (quelque chose d'inattendu)"
        );
        let error = std::io::Error::new(ErrorKind::WouldBlock, "try again");
        assert_eq!(io_error(&error), "erreur du système (try again)");
    }

    #[test]
    fn a_busy_port_says_which_address_and_which_option() {
        let address: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let busy = std::io::Error::from(ErrorKind::AddrInUse);
        assert_eq!(
            bind_error(&busy, address, "--port", "--bind"),
            "adresse déjà utilisée : un autre programme écoute sur 127.0.0.1:8000 ; choisissez un autre port avec --port"
        );
        let absent = std::io::Error::from(ErrorKind::AddrNotAvailable);
        assert!(
            bind_error(&absent, address, "--port", "--bind")
                .starts_with("adresse indisponible : 127.0.0.1 n'est pas une adresse de cet ordinateur ; choisissez-en une autre avec --bind")
        );
        let other = std::io::Error::from(ErrorKind::TimedOut);
        assert_eq!(
            bind_error(&other, address, "--port", "--bind"),
            "impossible d'écouter sur 127.0.0.1:8000 : délai dépassé"
        );
    }

    /// The error decoding `bytes` as a PNG gives.
    fn decoding(bytes: &[u8]) -> png::DecodingError {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let result = decoder.read_header_info().err();
        if let Some(error) = result {
            return error;
        }
        let mut reader = match decoder.read_info() {
            Ok(reader) => reader,
            Err(error) => return error,
        };
        loop {
            match reader.next_row() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the PNG decodes"),
                Err(error) => return error,
            }
        }
    }

    /// A small valid PNG.
    fn png_bytes() -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, 16, 16);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..16 * 16 * 3).map(|i| (i * 7 % 251) as u8).collect();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
        bytes
    }

    #[test]
    fn damaged_pngs_are_said_in_french() {
        let not_png = decoding(b"GIF89a, not a PNG at all, but long enough");
        assert_eq!(
            png_error(&not_png),
            "fichier PNG illisible (ce n'est pas un PNG : sa signature manque ; une image d'un autre format, renommée en .png ?)"
        );
        let good = png_bytes();
        let truncated = decoding(&good[..good.len() / 2]);
        assert_french(&png_error(&truncated));
        assert!(
            png_error(&truncated).starts_with("fichier PNG"),
            "{}",
            png_error(&truncated)
        );
        let mut damaged = good.clone();
        // A byte of the header chunk: its checksum no longer matches.
        damaged[20] ^= 0x01;
        let crc = decoding(&damaged);
        assert_eq!(
            png_error(&crc),
            "fichier PNG illisible (somme de contrôle fausse : le fichier est abîmé)"
        );
    }

    #[test]
    fn image_errors_are_said_in_french() {
        let error =
            image::load_from_memory_with_format(b"not a PNG", image::ImageFormat::Png).unwrap_err();
        let text = image_error(&error);
        assert!(text.starts_with("fichier PNG illisible ("), "{text}");
        assert_french(&text);
        assert_eq!(french(&error), Some(text));
        let io = std::io::Error::from(ErrorKind::NotFound);
        assert_eq!(
            french(&io).as_deref(),
            Some("fichier ou dossier introuvable")
        );
        let other = std::fmt::Error;
        assert_eq!(french(&other), None);
    }
}
