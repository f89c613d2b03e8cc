#include "tests/fakeprovider/response_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rebound::fake {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 529: return "Site Overloaded";
    default: return "Unknown";
  }
}

std::string FormatHead(int status,
                       const std::vector<std::pair<std::string_view, std::string_view>>& headers) {
  std::string head;
  head.reserve(256);
  absl::StrAppend(&head, "HTTP/1.1 ", status, " ");
  head.append(ReasonPhrase(status));
  head.append("\r\n");
  for (const auto& [name, value] : headers) {
    head.append(name);
    head.append(": ");
    head.append(value);
    head.append("\r\n");
  }
  head.append("\r\n");
  return head;
}

void AppendChunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  absl::StrAppendFormat(&out, "%x\r\n", data.size());
  out.append(data);
  out.append("\r\n");
}

std::string SimpleResponse(int status, std::string_view content_type, std::string_view body,
                           bool close) {
  std::string length_text = absl::StrCat(body.size());
  std::vector<std::pair<std::string_view, std::string_view>> headers = {
      {"Content-Type", content_type}, {"Content-Length", length_text}};
  if (close) headers.emplace_back("Connection", "close");
  std::string out = FormatHead(status, headers);
  out.append(body);
  return out;
}

}  // namespace rebound::fake
