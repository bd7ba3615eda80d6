//! The fake Buffer and the file server, checked over plain HTTP: they must
//! behave as the real services do for the publishing tests to mean
//! anything.

use std::collections::BTreeSet;

use crieur_testing::buffer::{
    FakeBuffer, Fault, FileMode, FileServer, GarbledKind, ORGANIZATION, TOKEN, short_link,
};
use serde_json::{Value, json};

const CREATE: &str = "mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id text status dueAt channelId } }
    ... on MutationError { message }
  }
}";

const EDIT: &str = "mutation EditPost($input: EditPostInput!) {
  editPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id text status dueAt channelId } }
    ... on MutationError { message }
  }
}";

const DELETE: &str = "mutation DeletePost($input: DeletePostInput!) {
  deletePost(input: $input) {
    __typename
    ... on DeletePostSuccess { id }
    ... on MutationError { message }
  }
}";

const POST: &str = "query Post($input: PostInput!) {
  post(input: $input) { id status dueAt sentAt text error { message } }
}";

const POSTS: &str = "query Posts($input: PostsInput!, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { cursor node { id text dueAt status channelId } }
    pageInfo { hasNextPage endCursor }
  }
}";

const CHANNELS: &str = "query Channels($input: ChannelsInput!) {
  channels(input: $input) {
    id name service isDisconnected isLocked isQueuePaused timezone
    linkShortening { isEnabled config { domain name } }
  }
}";

/// An answer as the client sees it.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn header_names(&self) -> BTreeSet<String> {
        self.headers
            .iter()
            .map(|(name, _)| name.to_ascii_lowercase())
            .filter(|name| {
                !matches!(
                    name.as_str(),
                    "content-type" | "content-length" | "date" | "server" | "connection"
                )
            })
            .collect()
    }
}

fn agent() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .user_agent("crieur-tests")
        .build()
        .unwrap()
}

fn reply(response: reqwest::blocking::Response) -> Reply {
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Reply {
        status: response.status().as_u16(),
        headers,
        body: response.text().unwrap_or_default(),
    }
}

fn call_with(buffer: &FakeBuffer, token: &str, query: &str, variables: Value) -> Reply {
    let body = json!({"query": query, "variables": variables}).to_string();
    let response = agent()
        .post(&buffer.url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .expect("the fake Buffer answers");
    reply(response)
}

fn call(buffer: &FakeBuffer, query: &str, variables: Value) -> Value {
    let reply = call_with(buffer, TOKEN, query, variables);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn create_input(channel: &str, text: &str, due_at: &str) -> Value {
    json!({
        "channelId": channel, "text": text, "dueAt": due_at,
        "schedulingType": "automatic", "mode": "customScheduled"
    })
}

fn instagram_input(text: &str, due_at: &str) -> Value {
    let mut input = create_input("chan-ig", text, due_at);
    input["assets"] = json!([{"image": {"url": "https://cpts.example/images/a.png", "metadata": {"altText": "Un chiffre"}}}]);
    input["metadata"] = json!({"instagram": {"type": "post", "shouldShareToFeed": true}});
    input
}

/// `createPost`'s payload.
fn create(buffer: &FakeBuffer, input: Value) -> Value {
    call(buffer, CREATE, json!({ "input": input }))["data"]["createPost"].clone()
}

fn created(buffer: &FakeBuffer, channel: &str, text: &str, due_at: &str) -> String {
    let payload = create(buffer, create_input(channel, text, due_at));
    assert_eq!(payload["__typename"], "PostActionSuccess", "{payload}");
    payload["post"]["id"].as_str().unwrap().to_owned()
}

fn posts_page(
    buffer: &FakeBuffer,
    filter: Value,
    first: Option<i64>,
    after: Option<&str>,
) -> Value {
    call(
        buffer,
        POSTS,
        json!({
            "input": {"organizationId": ORGANIZATION, "filter": filter, "sort": [{"field": "dueAt", "direction": "asc"}]},
            "first": first, "after": after
        }),
    )
}

fn listed_ids(page: &Value) -> Vec<String> {
    page["data"]["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn channels_are_a_registry_open_by_default_that_the_app_changes() {
    let buffer = FakeBuffer::start();
    let input = json!({"input": {"organizationId": ORGANIZATION}});
    let answer = call(&buffer, CHANNELS, input.clone());
    let channels = answer["data"]["channels"].as_array().unwrap();
    let ids: BTreeSet<&str> = channels.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, BTreeSet::from(["chan-fb", "chan-ig", "chan-li"]));
    for channel in channels {
        assert_eq!(channel["isLocked"], false, "{channel}");
        assert_eq!(channel["isDisconnected"], false, "{channel}");
        assert_eq!(channel["isQueuePaused"], false, "{channel}");
        assert_eq!(
            channel["linkShortening"],
            json!({"isEnabled": false, "config": null})
        );
    }

    buffer.lock("chan-ig");
    buffer.disconnect("chan-li");
    buffer.pause_queue("chan-fb", true);
    buffer.set_link_shortening("chan-fb", true);
    buffer.add_channel("chan-ma", "CPTS Mulhouse", "mastodon");
    let answer = call(&buffer, CHANNELS, input);
    let by_id = |id: &str| {
        answer["data"]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("chan-ig")["isLocked"], true);
    assert_eq!(by_id("chan-li")["isDisconnected"], true);
    assert_eq!(by_id("chan-fb")["isQueuePaused"], true);
    assert_eq!(
        by_id("chan-fb")["linkShortening"],
        json!({"isEnabled": true, "config": {"domain": "buff.ly", "name": "Buffer"}})
    );
    assert_eq!(by_id("chan-ma")["service"], "mastodon");

    let unlocked = call(
        &buffer,
        CHANNELS,
        json!({"input": {"organizationId": ORGANIZATION, "filter": {"isLocked": false}}}),
    );
    let ids: BTreeSet<&str> = unlocked["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from(["chan-fb", "chan-li", "chan-ma"]));
    assert_eq!(buffer.violations(), Vec::<String>::new());
}

#[test]
fn create_post_refuses_what_buffer_refuses() {
    let buffer = FakeBuffer::start();
    let due = "2026-12-01T18:00:00.000Z";
    let refusal = |input: Value| {
        let payload = create(&buffer, input);
        (
            payload["__typename"].as_str().unwrap().to_owned(),
            payload["message"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        refusal(create_input("chan-xx", "Bonjour", due)),
        ("NotFoundError".into(), "Channel not found".into())
    );
    assert_eq!(
        refusal(create_input("chan-fb", "", due)),
        ("InvalidInputError".into(), "Text is required".into())
    );
    let mut bare = instagram_input("Bonjour", due);
    bare["assets"] = json!([]);
    let (kind, message) = refusal(bare);
    assert_eq!(kind, "InvalidInputError");
    assert!(message.contains("Instagram"), "{message}");

    buffer.lock("chan-li");
    let (kind, message) = refusal(create_input("chan-li", "Bonjour", due));
    assert_eq!(kind, "InvalidInputError");
    assert!(message.contains("locked"), "{message}");
    buffer.disconnect("chan-fb");
    let (kind, message) = refusal(create_input("chan-fb", "Bonjour", due));
    assert_eq!(kind, "InvalidInputError");
    assert!(message.contains("disconnected"), "{message}");
    assert!(buffer.posts().is_empty());

    // Instagram with its image and metadata, and a paused queue, take posts.
    buffer.pause_queue("chan-ig", true);
    let payload = create(&buffer, instagram_input("Bonjour", due));
    assert_eq!(payload["__typename"], "PostActionSuccess", "{payload}");
    assert_eq!(buffer.violations(), Vec::<String>::new());
}

#[test]
fn a_full_queue_refuses_new_posts_until_some_go_out() {
    let buffer = FakeBuffer::start();
    for index in 0..10 {
        created(
            &buffer,
            "chan-fb",
            &format!("Post {index}"),
            &format!("2026-12-{:02}T18:00:00.000Z", index + 1),
        );
    }
    let full = create(
        &buffer,
        create_input("chan-fb", "Un de trop", "2026-12-20T18:00:00.000Z"),
    );
    assert_eq!(
        full,
        json!({"__typename": "LimitReachedError", "message": "You have reached the maximum number of scheduled posts for this channel"})
    );
    // Other channels have their own queues; drafts do not count.
    created(&buffer, "chan-li", "Ailleurs", "2026-12-20T18:00:00.000Z");
    let mut draft = create_input("chan-fb", "Brouillon", "2026-12-21T18:00:00.000Z");
    draft["saveToDraft"] = json!(true);
    assert_eq!(create(&buffer, draft)["post"]["status"], "draft");

    // The first post goes out: room for one more.
    assert_eq!(buffer.send_due("2026-12-01T18:00:30Z").len(), 1);
    created(&buffer, "chan-fb", "Enfin", "2026-12-20T18:00:00.000Z");
    let again = create(
        &buffer,
        create_input("chan-fb", "Encore", "2026-12-22T18:00:00.000Z"),
    );
    assert_eq!(again["__typename"], "LimitReachedError");

    buffer.set_queue_limit("chan-fb", Some(2));
    assert_eq!(
        create(
            &buffer,
            create_input("chan-fb", "Non", "2026-12-23T18:00:00.000Z")
        )["__typename"],
        "LimitReachedError"
    );
    buffer.set_queue_limit("chan-fb", None);
    created(
        &buffer,
        "chan-fb",
        "Sans limite",
        "2026-12-23T18:00:00.000Z",
    );
}

#[test]
fn a_post_deleted_in_the_app_is_gone_for_every_call() {
    let buffer = FakeBuffer::start();
    let id = created(&buffer, "chan-fb", "Bonjour", "2026-12-01T18:00:00.000Z");
    let kept = created(&buffer, "chan-fb", "Au revoir", "2026-12-02T18:00:00.000Z");
    assert!(buffer.delete_in_app(&id));

    let page = posts_page(&buffer, json!({"channelIds": ["chan-fb"]}), None, None);
    assert_eq!(listed_ids(&page), vec![kept]);
    assert_eq!(
        call(&buffer, POST, json!({"input": {"id": id}})),
        json!({"data": null, "errors": [{"message": "Post not found", "extensions": {"code": "NOT_FOUND"}}]})
    );
    let deleted = call(&buffer, DELETE, json!({"input": {"id": id}}));
    assert_eq!(
        deleted["data"]["deletePost"],
        json!({"__typename": "VoidMutationError", "message": "Post not found"})
    );
    let mut edit = create_input("chan-fb", "Bonjour encore", "2026-12-01T18:00:00.000Z");
    edit["id"] = json!(id);
    edit.as_object_mut().unwrap().remove("channelId");
    let edited = call(&buffer, EDIT, json!({ "input": edit }));
    assert_eq!(
        edited["data"]["editPost"],
        json!({"__typename": "NotFoundError", "message": "Post not found"})
    );
    assert_eq!(buffer.violations(), Vec::<String>::new());
}

#[test]
fn posts_go_out_at_their_instant_unless_the_channel_or_the_app_holds_them() {
    let buffer = FakeBuffer::start();
    let due = "2026-12-01T18:00:00.000Z";
    let on_fb = created(&buffer, "chan-fb", "Facebook", due);
    let on_li = created(&buffer, "chan-li", "LinkedIn", due);
    let on_ig = create(&buffer, instagram_input("Instagram", due))["post"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let later = created(&buffer, "chan-fb", "Plus tard", "2026-12-02T18:00:00.000Z");
    let draft = created(&buffer, "chan-fb", "Brouillon", due);
    let approval = created(&buffer, "chan-fb", "À valider", due);
    buffer.set_post_status(&draft, "draft");
    buffer.set_post_status(&approval, "needs_approval");
    buffer.pause_queue("chan-li", true);
    buffer.lock("chan-ig");

    // Not yet due: nothing moves.
    assert!(buffer.send_due("2026-12-01T18:59:59+01:00").is_empty());
    let sent = buffer.send_due("2026-12-01T19:00:00+01:00");
    assert_eq!(sent, vec![on_fb.clone()]);
    let post = |id: &str| call(&buffer, POST, json!({"input": {"id": id}}))["data"]["post"].clone();
    assert_eq!(post(&on_fb)["status"], "sent");
    assert_eq!(post(&on_fb)["sentAt"], "2026-12-01T18:00:00.000Z");
    for held in [&on_li, &on_ig, &later] {
        assert_eq!(post(held)["status"], "scheduled", "{held}");
        assert_eq!(post(held)["sentAt"], Value::Null);
    }
    assert_eq!(post(&draft)["status"], "draft");
    assert_eq!(post(&approval)["status"], "needs_approval");

    // Resumed the next morning: the held post goes late.
    buffer.pause_queue("chan-li", false);
    buffer.disconnect("chan-fb");
    assert_eq!(buffer.send_due("2026-12-02T09:00:00Z"), vec![on_li.clone()]);
    assert_eq!(post(&on_li)["sentAt"], "2026-12-02T09:00:00.000Z");
    assert!(
        buffer.send_due("2026-12-03T09:00:00Z").is_empty(),
        "chan-fb is disconnected"
    );
    buffer.reconnect("chan-fb");
    assert_eq!(buffer.send_due("2026-12-03T09:00:00Z"), vec![later.clone()]);
    buffer.unlock("chan-ig");
    assert_eq!(buffer.send_due("2026-12-03T09:00:00Z"), vec![on_ig.clone()]);
    buffer.set_post_status(&on_ig, "scheduled");

    buffer.settle(&on_ig, Some("Instagram refuse l'image"));
    assert_eq!(post(&on_ig)["status"], "error");
    assert_eq!(post(&on_ig)["error"]["message"], "Instagram refuse l'image");
    assert_eq!(buffer.violations(), Vec::<String>::new());
}

#[test]
fn buffer_stores_the_text_with_whitespace_normalised_and_links_shortened() {
    let buffer = FakeBuffer::start();
    let due = "2026-12-01T18:00:00.000Z";
    let text = "Lisez https://www.ameli.fr/mon-espace-sante?x=1 .  \r\nEt http://cpts.example/a,\t\r\nfin.";
    let plain = create(&buffer, create_input("chan-fb", text, due));
    assert_eq!(
        plain["post"]["text"],
        "Lisez https://www.ameli.fr/mon-espace-sante?x=1 .\nEt http://cpts.example/a,\nfin."
    );

    buffer.set_link_shortening("chan-li", true);
    let short = create(&buffer, create_input("chan-li", text, due));
    let first = short_link("https://www.ameli.fr/mon-espace-sante?x=1");
    let second = short_link("http://cpts.example/a");
    assert_eq!(
        short["post"]["text"],
        format!("Lisez {first} .\nEt {second},\nfin.")
    );
    assert!(first.starts_with("https://buff.ly/") && first.len() == "https://buff.ly/".len() + 7);
    assert_ne!(first, second);
    assert_eq!(
        first,
        short_link("https://www.ameli.fr/mon-espace-sante?x=1")
    );
    let id = short["post"]["id"].as_str().unwrap();
    assert_eq!(buffer.post(id).unwrap().text, short["post"]["text"]);
    let fetched = call(&buffer, POST, json!({"input": {"id": id}}));
    assert_eq!(fetched["data"]["post"]["text"], short["post"]["text"]);

    // Edits are stored the same way.
    let mut edit = create_input("chan-li", "Voir https://cpts.example/b  ", due);
    edit["id"] = json!(id);
    edit.as_object_mut().unwrap().remove("channelId");
    let edited = call(&buffer, EDIT, json!({ "input": edit }));
    assert_eq!(
        edited["data"]["editPost"]["post"]["text"],
        format!("Voir {}", short_link("https://cpts.example/b"))
    );
}

#[test]
fn posts_are_filtered_as_instants_and_read_in_pages_each_exactly_once() {
    let buffer = FakeBuffer::start();
    // 150 posts and their reading take more than Buffer's 100 requests.
    buffer.set_budget(1_000, 1_000);
    buffer.set_queue_limit("chan-fb", None);
    buffer.set_queue_limit("chan-li", None);
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00+01:00").unwrap();
    // Created out of order, with offsets: listings sort by instant.
    let mut all = Vec::new();
    for index in (0..150).rev() {
        let at = start + chrono::Duration::minutes(index * 10);
        let channel = if index % 2 == 0 { "chan-fb" } else { "chan-li" };
        let due = if index % 3 == 0 {
            at.to_rfc3339()
        } else {
            at.with_timezone(&chrono::Utc).to_rfc3339()
        };
        all.push(created(&buffer, channel, &format!("Post {index}"), &due));
    }

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = posts_page(&buffer, json!({}), Some(100), after.as_deref());
        pages += 1;
        let ids = listed_ids(&page);
        if pages == 1 {
            assert_eq!(ids.len(), 100);
            // A post of the next page vanishes between two reads.
            let gone = &all[0];
            assert!(!ids.contains(gone));
            assert!(buffer.delete_in_app(gone));
        }
        seen.extend(ids);
        let info = &page["data"]["posts"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 149);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 149, "each once");
    let mut expected: Vec<String> = all[1..].to_vec();
    expected.reverse();
    assert_eq!(seen, expected, "sorted by instant");

    assert_eq!(
        listed_ids(&posts_page(&buffer, json!({}), None, None)).len(),
        20
    );
    assert_eq!(
        listed_ids(&posts_page(&buffer, json!({}), Some(500), None)).len(),
        100
    );
    let bad = posts_page(&buffer, json!({}), None, Some("nonsense"));
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // 09:00+01:00 to 10:00+01:00 is 08:00Z to 09:00Z: posts 6 to 12.
    let window =
        json!({"dueAt": {"start": "2026-12-01T09:00:00+01:00", "end": "2026-12-01T09:00:00Z"}});
    let texts: Vec<String> = posts_page(&buffer, window, Some(100), None)["data"]["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        (6..=12).map(|i| format!("Post {i}")).collect::<Vec<_>>()
    );
    let fb = posts_page(&buffer, json!({"channelIds": ["chan-fb"]}), Some(100), None);
    let fb_edges = fb["data"]["posts"]["edges"].as_array().unwrap();
    assert!(
        fb_edges
            .iter()
            .all(|edge| edge["node"]["channelId"] == "chan-fb")
    );
    assert_eq!(fb_edges.len(), 75);

    buffer.set_post_status(&all[10], "sent");
    buffer.set_post_status(&all[20], "error");
    let done = posts_page(&buffer, json!({"status": ["sent", "error"]}), None, None);
    let mut ids = listed_ids(&done);
    ids.sort();
    let mut wanted = vec![all[10].clone(), all[20].clone()];
    wanted.sort();
    assert_eq!(ids, wanted);
    assert_eq!(buffer.violations(), Vec::<String>::new());
}

#[test]
fn answers_hold_only_the_selected_fields() {
    let buffer = FakeBuffer::start();
    let id = created(&buffer, "chan-fb", "Bonjour", "2026-12-01T18:00:00.000Z");
    let answer = call(
        &buffer,
        "query Post($input: PostInput!) { post(input: $input) { status channelService channel { name } } }",
        json!({"input": {"id": id}}),
    );
    assert_eq!(
        answer,
        json!({"data": {"post": {"status": "scheduled", "channelService": "facebook", "channel": {"name": "CPTS Mulhouse Agglomération"}}}})
    );
}

#[test]
fn the_request_budget_answers_429_with_buffers_headers() {
    let buffer = FakeBuffer::start();
    let organizations = "query Organizations { account { organizations { id name } } }";
    let first = call_with(&buffer, TOKEN, organizations, json!({}));
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("RateLimit-Policy"),
        Some("\"100-in-15min\";q=100;w=900, \"250-in-24h\";q=250;w=86400")
    );
    assert_eq!(
        first.header("RateLimit"),
        Some("\"100-in-15min\";r=99;t=900, \"250-in-24h\";r=249;t=86400")
    );

    buffer.set_budget(3, 250);
    assert_eq!(
        call_with(&buffer, TOKEN, organizations, json!({})).status,
        200
    );
    let third = call_with(&buffer, TOKEN, organizations, json!({}));
    assert_eq!(third.status, 200);
    assert!(
        third
            .header("RateLimit")
            .unwrap()
            .starts_with("\"3-in-15min\";r=0;t="),
        "{:?}",
        third.header("RateLimit")
    );
    let refused = call_with(&buffer, TOKEN, organizations, json!({}));
    assert_eq!(refused.status, 429);
    let body = refused.json();
    assert_eq!(body["errors"][0]["message"], "Too many requests");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "RATE_LIMIT_EXCEEDED"
    );
    let wait = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((898..=900).contains(&wait), "{wait}");
    assert_eq!(
        refused.header("Retry-After"),
        Some(wait.to_string().as_str())
    );
    let rate = refused.header("RateLimit").unwrap();
    assert!(rate.starts_with("\"3-in-15min\";r=0;t="), "{rate}");
    assert!(rate.contains(", \"250-in-24h\";r=246;t="), "{rate}");
    assert_eq!(
        refused.header("RateLimit-Policy"),
        Some("\"3-in-15min\";q=3;w=900, \"250-in-24h\";q=250;w=86400")
    );
    // Refused requests count too, and each key has its own budget.
    assert_eq!(buffer.requests_total(), 4);
    let other = call_with(&buffer, "another-key", organizations, json!({}));
    assert_eq!(other.status, 401);
    assert_eq!(buffer.requests_total(), 5);

    // The day's budget: spent, the wait is the better part of a day.
    let daily = FakeBuffer::start();
    daily.set_budget(100, 1);
    assert_eq!(
        call_with(&daily, TOKEN, organizations, json!({})).status,
        200
    );
    let refused = call_with(&daily, TOKEN, organizations, json!({}));
    assert_eq!(refused.status, 429);
    let wait: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
    assert!((86_398..=86_400).contains(&wait), "{wait}");
    assert_eq!(daily.requests("Organizations"), 2);
}

#[test]
fn each_form_of_rate_hint_comes_alone() {
    let buffer = FakeBuffer::start();
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-02T19:05:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let system_time: std::time::SystemTime = at.into();
    // A fault, the only headers it brings, and the body's extensions.
    type Case = (Fault, Vec<(&'static str, String)>, Value);
    let cases: Vec<Case> = vec![
        (
            Fault::retry_after_seconds(120),
            vec![("retry-after", "120".into())],
            json!({"code": "RATE_LIMIT_EXCEEDED"}),
        ),
        (
            Fault::retry_after_date(system_time),
            vec![("retry-after", "Wed, 02 Dec 2026 19:05:00 GMT".into())],
            json!({"code": "RATE_LIMIT_EXCEEDED"}),
        ),
        (
            Fault::rate_limit_windows(&[("100-in-15min", 0, 540), ("250-in-24h", 12, 30000)]),
            vec![(
                "ratelimit",
                "\"100-in-15min\";r=0;t=540, \"250-in-24h\";r=12;t=30000".into(),
            )],
            json!({"code": "RATE_LIMIT_EXCEEDED"}),
        ),
        (
            Fault::rate_limit_reset(300),
            vec![("ratelimit-reset", "300".into())],
            json!({"code": "RATE_LIMIT_EXCEEDED"}),
        ),
        (
            Fault::x_rate_limit_reset(1_796_238_300),
            vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", "1796238300".into()),
            ],
            json!({"code": "RATE_LIMIT_EXCEEDED"}),
        ),
        (
            Fault::retry_after_in_body(42),
            vec![],
            json!({"code": "RATE_LIMIT_EXCEEDED", "retryAfter": 42}),
        ),
        (
            Fault::window_in_body("15m"),
            vec![],
            json!({"code": "RATE_LIMIT_EXCEEDED", "window": "15m"}),
        ),
    ];
    for (fault, headers, extensions) in cases {
        let label = format!("{fault:?}");
        buffer.fault("CreatePost", fault);
        let before = buffer.posts().len();
        let reply = call_with(
            &buffer,
            TOKEN,
            CREATE,
            json!({"input": create_input("chan-fb", "Bonjour", "2026-12-01T18:00:00.000Z")}),
        );
        assert_eq!(reply.status, 429, "{label}");
        let names: BTreeSet<String> = headers.iter().map(|(name, _)| (*name).to_owned()).collect();
        assert_eq!(reply.header_names(), names, "{label}: only its own hint");
        for (name, value) in &headers {
            assert_eq!(reply.header(name), Some(value.as_str()), "{label}");
        }
        assert_eq!(
            reply.json(),
            json!({"errors": [{"message": "Too many requests", "extensions": extensions}]}),
            "{label}"
        );
        assert_eq!(buffer.posts().len(), before, "{label}: nothing done");
    }
    // The fault is spent: the next request passes.
    let payload = create(
        &buffer,
        create_input("chan-fb", "Bonjour", "2026-12-01T18:00:00.000Z"),
    );
    assert_eq!(payload["__typename"], "PostActionSuccess");
}

#[test]
fn a_garbled_answer_comes_after_the_post_is_created() {
    let buffer = FakeBuffer::start();
    buffer.set_queue_limit("chan-fb", None);
    let kinds = [
        GarbledKind::TruncatedJson,
        GarbledKind::BadGateway,
        GarbledKind::EmptyBody,
        GarbledKind::HtmlBody,
    ];
    for (index, kind) in kinds.into_iter().enumerate() {
        buffer.fault("CreatePost", Fault::Garbled(kind));
        let text = format!("Post {index}");
        let reply = call_with(
            &buffer,
            TOKEN,
            CREATE,
            json!({"input": create_input("chan-fb", &text, "2026-12-01T18:00:00.000Z")}),
        );
        assert!(
            serde_json::from_str::<Value>(&reply.body).is_err(),
            "{kind:?}: {}",
            reply.body
        );
        let content_type = reply.header("Content-Type").unwrap_or_default();
        match kind {
            GarbledKind::TruncatedJson => {
                assert_eq!(reply.status, 200);
                assert!(
                    reply.body.starts_with("{\"data\":{\"createPost\":"),
                    "{}",
                    reply.body
                );
            }
            GarbledKind::BadGateway => {
                assert_eq!(reply.status, 502);
                assert!(content_type.starts_with("text/html"));
                assert!(reply.body.contains("502 Bad Gateway"));
            }
            GarbledKind::EmptyBody => {
                assert_eq!(reply.status, 200);
                assert!(reply.body.is_empty());
            }
            GarbledKind::HtmlBody => {
                assert_eq!(reply.status, 200);
                assert!(content_type.starts_with("text/html"));
                assert!(reply.body.starts_with("<!DOCTYPE html>"));
            }
        }
        let posts = buffer.posts();
        assert_eq!(posts.len(), index + 1, "{kind:?}: the post is created");
        assert!(posts.iter().any(|post| post.text == text));
    }
    assert_eq!(buffer.requests("CreatePost"), 4);
}

#[test]
fn the_file_server_serves_images_and_breaks_as_a_host_can() {
    let dir = tempfile::tempdir().unwrap();
    let png = b"\x89PNG\r\n\x1a\nfake png bytes for the test".to_vec();
    let jpeg = b"\xff\xd8\xff\xe0fake jpeg bytes for the test, a little longer".to_vec();
    std::fs::write(dir.path().join("a.png"), &png).unwrap();
    std::fs::write(dir.path().join("b.jpg"), &jpeg).unwrap();
    let files = FileServer::start(dir.path().to_path_buf());
    let get = |name: &str| {
        let response = agent().get(format!("{}{name}", files.url)).send().unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let length = response
            .headers()
            .get("content-length")
            .map(|v| v.to_str().unwrap().parse::<usize>().unwrap());
        (
            status,
            kind,
            length,
            response.bytes().map(|bytes| bytes.to_vec()),
        )
    };

    let (status, kind, _, body) = get("a.png");
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    assert_eq!(body.unwrap(), png);
    let (status, kind, _, body) = get("b.jpg");
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert_eq!(body.unwrap(), jpeg);
    assert_eq!(get("absent.png").0, 404);
    assert_eq!(get("../a.png").0, 404);

    let head = agent().head(format!("{}b.jpg", files.url)).send().unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["content-type"], "image/jpeg");
    assert_eq!(
        head.headers()["content-length"],
        jpeg.len().to_string().as_str()
    );

    files.set_mode(FileMode::NotFound);
    assert_eq!(get("a.png").0, 404);
    files.set_mode(FileMode::Forbidden);
    let (status, _, _, body) = get("a.png");
    assert_eq!(status, 403);
    assert!(
        String::from_utf8(body.unwrap())
            .unwrap()
            .contains("AccessDenied")
    );
    files.set_mode(FileMode::WrongType);
    let (status, kind, _, _) = get("a.png");
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    files.set_mode(FileMode::Truncated);
    let (status, kind, length, body) = get("b.jpg");
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert_eq!(length, Some(jpeg.len()));
    // The connection closes before the announced length: an error, or a
    // short body, never the whole file.
    assert_ne!(body.ok().map(|bytes| bytes.len()), Some(jpeg.len()));
    files.set_mode(FileMode::Normal);
    assert_eq!(get("b.jpg").3.unwrap(), jpeg);
    assert!(files.hits().iter().any(|(method, _)| method == "HEAD"));
}

#[test]
fn buffer_fails_a_post_whose_image_cannot_be_fetched_at_its_instant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.png"), b"\x89PNG\r\n\x1a\nimage").unwrap();
    let files = FileServer::start(dir.path().to_path_buf());
    let buffer = FakeBuffer::start();
    buffer.set_fetch_media(true);
    let due = "2026-12-01T18:00:00.000Z";
    let mut input = create_input("chan-fb", "Avec image", due);
    input["assets"] = json!([{"image": {"url": format!("{}a.png", files.url), "metadata": {"altText": "Une image"}}}]);
    let good = create(&buffer, input.clone())["post"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(buffer.send_due("2026-12-01T18:00:00Z"), vec![good.clone()]);
    assert_eq!(buffer.post(&good).unwrap().status, "sent");

    input["dueAt"] = json!("2026-12-02T18:00:00.000Z");
    let bad = create(&buffer, input)["post"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    files.set_mode(FileMode::Forbidden);
    buffer.send_due("2026-12-02T18:00:00Z");
    let post = buffer.post(&bad).unwrap();
    assert_eq!(post.status, "error");
    assert!(post.error.unwrap().contains("HTTP 403"));
}
