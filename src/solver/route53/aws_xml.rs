//! The Challenge step's Route 53 provider: the XML it writes (a change batch) and reads of
//! AWS's refusals, pure.

use super::api::MAX_MESSAGE;

/// AWS's error answer: `<ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>` (or
/// the `<Response><Errors><Error>` some services use), or Route 53's own
/// `<InvalidChangeBatch><Messages><Message/></Messages></InvalidChangeBatch>`, whose code is its
/// root element's name; its code and first message, entities resolved, wherever found.
pub fn aws_error(body: &[u8]) -> Option<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let (mut code, mut message, mut root) = (None::<String>, None::<String>, None::<String>);
    let (mut at, mut text) = (Vec::<u8>::new(), String::new());
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                at = e.local_name().as_ref().to_vec();
                root.get_or_insert_with(|| String::from_utf8_lossy(&at).into_owned());
                text.clear();
            }
            Ok(Event::Text(t)) => text.push_str(&t.decode().unwrap_or_default()),
            // quick-xml hands `&apos;` and the like over apart from the text around them.
            Ok(Event::GeneralRef(r)) => {
                let name = r.decode().unwrap_or_default();
                let c = match name.as_ref() {
                    "apos" => Some('\''),
                    "quot" => Some('"'),
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                text.extend(c);
            }
            Ok(Event::End(_)) => {
                let found = Some(text.trim().to_string()).filter(|t| !t.is_empty());
                match at.as_slice() {
                    b"Code" if code.is_none() => code = found,
                    b"Message" if message.is_none() => message = found,
                    _ => {}
                }
                (at, text) = (Vec::new(), String::new());
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    let named = root.filter(|r| r != "ErrorResponse" && r != "Response" && message.is_some());
    let cut = |m: String| m.chars().take(MAX_MESSAGE).collect::<String>();
    code.or(named).map(|c| (cut(c), cut(message.unwrap_or_default())))
}

/// `s` as XML text.
fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// The ChangeResourceRecordSets body for one change of the TXT record set cert-manager writes:
/// one multivalue-answer set per value (its identifier the value), so that a wildcard and its
/// base name, whose challenges share `_acme-challenge.<name>`, each have a set of their own.
pub fn change_body(action: &str, fqdn: &str, value: &str, ttl: u32) -> String {
    let (fqdn, value) = (escape(fqdn), escape(value));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
         <ChangeBatch><Comment>Managed by cert-manager</Comment><Changes><Change>\
         <Action>{action}</Action><ResourceRecordSet><Name>{fqdn}</Name><Type>TXT</Type>\
         <SetIdentifier>{value}</SetIdentifier><MultiValueAnswer>true</MultiValueAnswer>\
         <TTL>{ttl}</TTL><ResourceRecords><ResourceRecord><Value>{value}</Value>\
         </ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes>\
         </ChangeBatch></ChangeResourceRecordSetsRequest>"
    )
}
