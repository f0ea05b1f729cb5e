//! `sluice-policy`: policy templates. A connector's `policyTemplateInstances`
//! parsed once, when the package loads, into a [`PolicySet`] that edits each
//! backend request and response. Parsing does no I/O; evaluation touches
//! only the request or response it is given.
//!
//! ```
//! use indexmap::IndexMap;
//! use sluice_policy::{ExprContext, PolicySet};
//!
//! let instances: Vec<serde_json::Value> = serde_json::from_str(r#"[{
//!     "templateId": "setheader",
//!     "title": "Tenant",
//!     "parameters": {
//!         "x-ms-apimTemplateParameter.name": "X-Tenant",
//!         "x-ms-apimTemplateParameter.value": "@connectionParameters('tenant')"
//!     }
//! }]"#).unwrap();
//! let (policies, warnings) = PolicySet::parse(&instances);
//! assert!(warnings.is_empty());
//!
//! let values: IndexMap<String, String> = [("tenant".to_string(), "contoso".to_string())].into();
//! let headers = http::HeaderMap::new();
//! let ctx = ExprContext { connection_parameters: &values, headers: &headers, query: &[], gateway: None };
//! let mut request = http::Request::get("https://api.example.com/v1/items").body(bytes::Bytes::new()).unwrap();
//! policies.apply_request("ListItems", &IndexMap::new(), &mut request, &ctx).unwrap();
//! assert_eq!(request.headers()["x-tenant"], "contoso");
//! ```
//!
//! # Instances
//!
//! Each instance is `{ "templateId", "title", "parameters": { ... } }`.
//! Template parameters are the keys `x-ms-apimTemplateParameter.<name>`;
//! two keys say where a policy applies:
//! - `x-ms-apimTemplate-operationName`: operation ids; absent or empty means
//!   every operation;
//! - `x-ms-apimTemplate-policySection`: `Request` (the default) or `Response`.
//!
//! An unknown template id, a template sluice does not implement, a missing or
//! malformed parameter and an unknown parameter key are load warnings; the
//! policy (for an unknown key, just the key) is ignored and the rest load.
//!
//! # Order
//!
//! The gateway runs a call as: route the operation, build the backend URL,
//! apply the connection's credentials, **request policies**, the custom code
//! (whose `send` makes the backend call) or the backend call itself,
//! **response policies**, answer. Within a section, policies apply in the
//! order `policyTemplateInstances` lists them, each seeing the previous one's
//! result. In the request section, `@headers` reads the request as the
//! earlier policies left it (the client's headers, the declared defaults and
//! the connection's credentials, then each earlier policy's edits), as the
//! platform's does: certified packages set a header and read it back in the
//! next policy (Cradl AI's `Bearer @headers('Authorization')` after a
//! `setvaluefromurl`; DeepL's `DeepL-Auth-Key @headers('Authorization')` on
//! the API key the definition puts there). `@queryParameters`, and
//! `@headers` in the response section, read the client's original request.
//!
//! # Templates
//!
//! | template | parameters | what it does |
//! |---|---|---|
//! | `setheader` | `name`, `value`, `existsAction` | sets a request (or, in `Response`, response) header; `existsAction` is `override` (default: replace all values), `skip` (leave an existing header) or `append` (add another value) |
//! | `setqueryparameter` | `name`, `value`, `existsAction` | the same for a query parameter of the backend URL; request only. Untouched parameters keep their encoding |
//! | `routerequesttoendpoint` | `newPath`, `httpMethod` | replaces the operation's path (relative to the base URL, i.e. after `basePath`); `{name}` placeholders are filled with the operation's path parameters, encoded as path segments, after expressions are evaluated. A `newPath` that is an absolute `http(s)` URL replaces the base URL too; a `?query` in it is appended. `httpMethod` is a method or `@Request.OriginalHTTPMethod` (the client's method). Request only |
//! | `dynamichosturl` | `urlTemplate` | replaces scheme, host and base path of the backend URL with the evaluated URL (which must be absolute `http(s)` without query); the operation's path and the query stay. Request only |
//! | `dynamicsubdomain` | `urlTemplate` | `dynamichosturl` where the connection chooses only a subdomain: the template's expressions must stand in the host before a fixed domain of at least two labels (`https://@connectionParameters('subdomain').alisqi.com/api/`, a load warning otherwise), and each value they put in must be one DNS label (letters, digits, hyphens), else [`PolicyError::InvalidUrl`] naming the expression, never the value, so `evil.example/x?` cannot make the connection's requests go elsewhere. Request only |
//! | `setconnectionstatustounauthenticated` | `statusCode` (required, 400 to 599) | a backend answer of that status marks the call's connection *unauthenticated*, which the caller keeps ([`PolicySet::marks_unauthenticated`]): the gateway shows it as the connection's status until the connection is made again or its test-connection operation (`x-ms-capabilities.testConnection`) succeeds. The message is passed on as it is. Response only, as the platform's instances name no section (DeskDirector) |
//! | `setvaluefromurl` | `parameterTemplate`, `parameterValueUrl`, `parameterValuePathTemplate`, `httpMethod` (default `GET`) | makes a backend call of its own, in its turn, and puts a value of its JSON answer on the request: `parameterValueUrl` (expressions evaluated, `{name}` filled with the operation's path parameters) is relative to the base URL as the earlier policies left it, or absolute; the call carries the request's headers as the earlier policies left them (the connection's credentials among them) and no body, and is sent by the caller's [`ValueFetch`] (the gateway's: through the connection's egress policy, one refresh after a 401). The value at `parameterValuePathTemplate` (a string as it is, another JSON value as JSON text) goes where `parameterTemplate` names: `@headers('x')` (replaced, marked sensitive), `@queryParameters('x')` (replaced) or a `@body()` path. An answer that is not 2xx or JSON, or has nothing there, is [`PolicyError::FetchedValue`]; a failed call [`PolicyError::FetchUnavailable`]. Only [`PolicySet::apply_request_fetching`] makes the call. Request only. (As Planner, which sets `If-Match` from a task's etag, and Cradl AI, which fetches a token, use it) |
//! | `setproperty` | `newPropertyParentPathTemplate` (default `@body()`), `newPropertySubPathTemplate`, `propertyValuePathTemplate` | sets a JSON body property under the parent (under each element when the parent is an array), creating missing objects. The value is text with expressions, a JSON value when the parameter is not a string, or a copy of another property when it is a path (`@body().x`, `@item().x`). An empty request body becomes `{}` |
//! | `convertobjecttoarray` | `propertyParentPath` (default `@body()`), `propertySubPath`, `newPropertyPath`, `keyName`, `valueName` | turns the object at parent/sub into `[{keyName: key, valueName: value}]` written at `newPropertyPath` (`@body()...` from the root, else relative to the parent); with no `valueName`, an object value's fields are merged beside the key |
//! | `convertarraytoobject` | `propertyParentPath`, `propertySubPath`, `keyWithinCollectionPath`, `newPropertyPath`, `retainKey` (default `true`) | turns the array at parent/sub into an object keyed by each item's key property; with `retainKey` false the key is removed from the items. An item without a string or number key is an error |
//! | `stringreplace` | `oldValue`, `newValue`, optional `propertyParentPath` / `propertySubPath` | replaces every occurrence of `oldValue`: in all strings at the property when a path is given, else in the whole body as text. (The platform does not document this template's parameters; these names follow the conversion templates.) |
//! | `stringtoarray` | `propertyParentPath` (default `@body()`), `propertySubPath`, `delimiterList`, `childPropertyName`, `newPropertyPath` (default: the string's own place) | splits the string at parent/sub at any character of `delimiterList` into `[{childPropertyName: part}, ...]` written at `newPropertyPath`; parts are trimmed and empty ones dropped (sluice's reading: the platform documents neither). A value that is not a string is left as it is (logged at debug) |
//! | `moveproperties` | `srcParentPath` (default `@body()`), `srcSubPath`, `dstParentPath` (default `@body()`), `dstSubPath` (default none; `null` also means none), `copyOnlySubProperties` (default `false`) | takes the value at source parent/sub out of the body and writes it at destination parent/sub (`dstParentPath` is from the root when it starts `@body()`, else relative to each source parent); with `copyOnlySubProperties`, the source must be an object and its properties are merged into the destination object, replacing ones of the same name. A source that is not an object then, or a destination that cannot hold the value, is left as it is (logged at debug). (The platform does not document this template; this follows its use in certified packages: AzureAD flattens `customProperties` into the user) |
//! | `encodepropertyvalue` | `propertyParentPath` (default `@body()`), `propertySubPath`, `newPropertyPath` (default: the value's own place), `encodingType` (`url`, the default, or `base64`) | encodes the string at parent/sub and writes it at `newPropertyPath`: `url` percent-encodes every byte but RFC 3986's unreserved ones (as .NET's `Uri.EscapeDataString`), `base64` is standard base64 with padding of the UTF-8 bytes. A value that is not a string is left as it is (logged at debug). (The platform documents no parameters for this template; certified Planner names none and encodes user ids or e-mail addresses, hence URL encoding by default; `encodingType` is sluice's name) |
//! | `updatenextlink` | `nextLinkPropertyName` | points a response's next-page link back at the gateway, so the next page goes through the gateway and the connection: the link (absolute, or relative to the backend URL) must be on the origin the call was sent to (after `dynamichosturl`) and under the base path; it becomes `{connection URL}{path after the base path}?{query}`, the connection URL being [`GatewayRoute::connection_url`] (`{gateway}/apim/{connector}/{connection}`). The name is a property of the body's root as written (`@odata.nextLink`, `nextLink`), or a path when it starts `@body()`. A link anywhere else is left as it is (logged at debug with its origin, never a foreign URL made a gateway URL), as is every link when [`ExprContext::gateway`] is `None`. Response only: it runs there when its instance names no section, as the platform's do |
//! | `pollingtrigger` | `triggerDataPath` (`@triggerBody().items`), `triggerConfig` (an object: query parameter name → value) | makes a polling trigger's answer the platform's polling protocol (the Logic Apps trigger contract: 202 means nothing new, 200 fires the trigger, `Location` is where the next poll goes). No items at `triggerDataPath` (an empty array, `null` or no property) answers **202** with the request's own state; items answer **200** with each `triggerConfig` parameter set to its value computed from the body: text with `@{triggerBody().path}` in it (`lastModifiedDateTime gt @{triggerBody().value[0].lastModifiedDateTime}`), a whole `@triggerBody().path`, or a literal (`"1"`). Either way `Location` is the same operation through the gateway and the connection, as `updatenextlink` builds it: [`GatewayRoute::connection_url`], the backend URL's path after the base path, and the client's original query ([`ExprContext::query`], never the backend's, which may carry credentials) with the state parameters replaced. The body is passed on as it is, and so is a `Retry-After` the backend sent; sluice adds none, as neither the template nor `x-ms-trigger` carries an interval, so the flow's own recurrence applies. A response that is not 2xx is passed on; one that is not JSON, whose data path holds something other than an array, or whose state cannot be computed (a property absent, `null`, an object or an array), and every response when [`ExprContext::gateway`] is `None`, is left as it is (logged at debug). Only `triggerBody()` is read in expressions; a `triggerConfig` entry without a name is left out with a load warning. Response only, as `updatenextlink`. (The platform documents no page for this template; this follows the eleven certified packages that use it, e.g. Huddle, Scrive eSign, MicrosoftGraphSecurity, Mobili Stotele) |
//!
//! Paths in body templates are described in the `body` module: `@body()`
//! (also written `@body`), `@body().a.b`, `@body()?['odd name']`, `[0]`,
//! `@item().x` and bare `a.b`.
//!
//! Bodies: a *request* body that JSON templates need must be JSON (else
//! [`PolicyError::BodyNotJson`], a client mistake); a *response* body that is
//! empty or not JSON is passed on unchanged, so a backend's HTML error page
//! is not turned into a gateway error. An edited body is re-serialised and
//! any `Content-Length` header updated.
//!
//! Every template of the platform's list runs; an unknown id is a load
//! warning and its policy is ignored.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod body;
mod error;
mod expr;
mod fetch;
mod policy;
mod set;
mod target;
mod templates;
mod trigger;

pub use error::PolicyError;
pub use expr::{ConnectionValues, ExprContext, GatewayRoute};
pub use fetch::{FetchFuture, NoFetch, ValueFetch};
pub use policy::{Policy, Section};
pub use set::PolicySet;
pub use templates::{TEMPLATES, TemplateInfo, template};
