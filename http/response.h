// Serialising HTTP/1.1 responses: the status line and header block, and the
// chunked framing of streamed bodies. Pure.
#ifndef REBOUND_HTTP_RESPONSE_H_
#define REBOUND_HTTP_RESPONSE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_types.h"

namespace rebound::http {

// "Too Many Requests" for 429, ...; "Unknown" for codes without a phrase.
std::string_view ReasonPhrase(int status);

// Appends the status line and headers. `content_length` nullopt: the body
// follows in chunks (Transfer-Encoding: chunked). `keep_alive` false adds
// `Connection: close`. Header values with CR or LF are dropped (they would
// split the response); `headers` must not hold framing headers.
void AppendResponseHead(int status, const HttpHeaders& headers,
                        std::optional<size_t> content_length, bool keep_alive, std::string* out);

// One chunk of a chunked body; empty data appends nothing (an empty chunk
// would end the body).
void AppendChunk(std::string_view data, std::string* out);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace rebound::http

#endif  // REBOUND_HTTP_RESPONSE_H_
