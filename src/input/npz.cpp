// .npz archives: a zip of .npy members, read and written through libzip. The .npy parsing
// itself is src/input/npy.cpp's; this file adds the zip-level checks (names, sizes, methods).
#include "mhacheck/npy.hpp"
#include "input/npy_detail.hpp"

#include "mhacheck/output_file.hpp"

#include <memory>
#include <set>

#include <unistd.h>
#include <zip.h>

#include <fmt/format.h>

namespace mhacheck {

using namespace npy_detail;

namespace {

const char* kNpzHelp = "an .npz file is written by np.savez or np.savez_compressed";

// Owns an archive opened for reading; nothing is ever written back.
struct ReadArchive {
  zip_t* zip = nullptr;
  ~ReadArchive() {
    if (zip != nullptr) zip_discard(zip);
  }
};

struct ZipMember {
  zip_uint64_t index;
  std::string entry;  // the name inside the zip, "query.npy"
  std::string name;   // the name np.load gives it, "query"
};

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

// A name that would land outside the directory it is extracted into.
bool climbs_out(const std::string& name) {
  if (name.empty() || name[0] == '/' || name[0] == '\\') return true;
  if (name.size() >= 2 && name[1] == ':') return true;  // "C:..."
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find_first_of("/\\", start);
    if (end == std::string::npos) end = name.size();
    if (name.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

std::string without_npy(const std::string& entry) {
  bool npy = entry.size() > 4 && entry.compare(entry.size() - 4, 4, ".npy") == 0;
  return npy ? entry.substr(0, entry.size() - 4) : entry;
}

void open_archive(const std::string& path, ReadArchive& archive) {
  NpySource source{path, {}};
  std::int64_t size = 0;
  int fd = open_regular_file(source, size);
  int code = 0;
  archive.zip = zip_fdopen(fd, 0, &code);
  if (archive.zip == nullptr) {
    ::close(fd);
    throw npy_error(source, fmt::format("not a readable zip archive: {}", zip_error_text(code)), kNpzHelp);
  }
}

// Every member, after refusing the archive if any name is unsafe or repeated.
std::vector<ZipMember> members_of(const std::string& path, zip_t* zip) {
  NpySource source{path, {}};
  std::vector<ZipMember> members;
  std::set<std::string> seen;
  zip_int64_t count = zip_get_num_entries(zip, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_uint64_t index = static_cast<zip_uint64_t>(i);
    const char* raw = zip_get_name(zip, index, ZIP_FL_ENC_GUESS);
    if (raw == nullptr) throw npy_error(source, fmt::format("cannot read the name of entry {}: {}", i, zip_strerror(zip)));
    std::string entry = raw;
    if (climbs_out(entry)) {
      throw npy_error(source, fmt::format("member name \"{}\" is unsafe (absolute, or with a '..' component)", entry),
                      "refusing the whole archive: np.savez never writes such names");
    }
    if (entry.back() == '/') continue;  // a directory entry holds no array
    std::string name = without_npy(entry);
    if (!seen.insert(name).second) {
      throw npy_error(source, fmt::format("member \"{}\" appears more than once", name),
                      "refusing the whole archive: which copy np.load reads is not obvious");
    }
    members.push_back({index, entry, name});
  }
  return members;
}

const ZipMember& find_member(const std::string& path, const std::vector<ZipMember>& members, const std::string& name) {
  for (const ZipMember& member : members) {
    if (member.name == name) return member;
  }
  // np.load also accepts the full entry name ("query.npy").
  for (const ZipMember& member : members) {
    if (member.entry == name) return member;
  }
  std::string names;
  for (const ZipMember& member : members) names += (names.empty() ? "" : ", ") + member.name;
  throw npy_error({path, {}}, fmt::format("no member \"{}\"", name),
                  members.empty() ? "the archive is empty" : fmt::format("members: {}", names));
}

// An open member with its declared (central directory) uncompressed size.
class MemberReader {
 public:
  MemberReader(zip_t* zip, const NpySource& source, const ZipMember& member) : source_(source) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(zip, member.index, 0, &stat) != 0) {
      throw npy_error(source, fmt::format("cannot read its zip entry: {}", zip_strerror(zip)));
    }
    if ((stat.valid & ZIP_STAT_SIZE) == 0) throw npy_error(source, "its zip entry has no uncompressed size");
    if ((stat.valid & ZIP_STAT_COMP_METHOD) != 0 && stat.comp_method != ZIP_CM_STORE &&
        stat.comp_method != ZIP_CM_DEFLATE) {
      throw npy_error(source, fmt::format("zip compression method {} is not supported", stat.comp_method),
                      "np.savez stores and np.savez_compressed deflates; nothing else is read");
    }
    if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && stat.encryption_method != ZIP_EM_NONE) {
      throw npy_error(source, "the member is encrypted", kNpzHelp);
    }
    declared_size_ = stat.size;
    file_ = zip_fopen_index(zip, member.index, 0);
    if (file_ == nullptr) throw npy_error(source, fmt::format("cannot open: {}", zip_strerror(zip)));
  }
  ~MemberReader() { zip_fclose(file_); }
  MemberReader(const MemberReader&) = delete;
  MemberReader& operator=(const MemberReader&) = delete;

  zip_uint64_t declared_size() const { return declared_size_; }

  // Never reads past the declared size, whatever the compressed stream would produce.
  ByteReader reader() {
    return [this](unsigned char* into, std::size_t count) {
      zip_uint64_t left = declared_size_ - position_;
      return read_raw(into, std::min<zip_uint64_t>(count, left));
    };
  }

  // After the data: one byte more must not exist. Inflates at most one byte beyond the
  // declared size, and lets libzip check the CRC at the end of the stream.
  void check_at_end() {
    unsigned char extra = 0;
    if (read_raw(&extra, 1) != 0) {
      throw npy_error(source_, fmt::format("holds more data than its declared {} bytes", declared_size_));
    }
  }

 private:
  std::size_t read_raw(unsigned char* into, zip_uint64_t count) {
    std::size_t done = 0;
    while (done < count) {
      zip_int64_t got = zip_fread(file_, into + done, count - done);
      if (got < 0) throw npy_error(source_, fmt::format("cannot read: {}", zip_file_strerror(file_)));
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    position_ += done;
    return done;
  }

  NpySource source_;
  zip_file_t* file_ = nullptr;
  zip_uint64_t declared_size_ = 0;
  zip_uint64_t position_ = 0;
};

// The member's declared size must be exactly header plus data: checked before inflating data.
void check_declared_size(const NpySource& source, const NpyHeader& header, std::size_t header_size,
                         zip_uint64_t declared) {
  zip_uint64_t need = header_size + static_cast<zip_uint64_t>(data_bytes(header));
  if (declared != need) {
    throw npy_error(source,
                    fmt::format("zip entry declares {} uncompressed bytes, but its .npy header ({} elements of {}) "
                                "needs {}",
                                declared, header.element_count, dtype_name(header.dtype), need),
                    "the archive is damaged or was not written by NumPy");
  }
}

}  // namespace

std::vector<std::string> list_npz(const std::string& path) {
  ReadArchive archive;
  open_archive(path, archive);
  std::vector<std::string> names;
  for (const ZipMember& member : members_of(path, archive.zip)) names.push_back(member.name);
  return names;
}

namespace {

// One member of an archive opened for reading, up to the end of its .npy header.
struct OpenMember {
  ReadArchive archive;
  std::vector<ZipMember> members;
  const ZipMember* found = nullptr;
  NpySource source;
  std::unique_ptr<MemberReader> reader;
  ByteReader read;
  NpyHeader header;
  std::size_t header_size = 0;

  OpenMember(const std::string& path, const std::string& member) {
    open_archive(path, archive);
    members = members_of(path, archive.zip);
    found = &find_member(path, members, member);
    source = NpySource{path, found->name};
    reader = std::make_unique<MemberReader>(archive.zip, source, *found);
    read = reader->reader();
    header = read_header(source, read, header_size);
  }
};

}  // namespace

NpyHeader read_npz_header(const std::string& path, const std::string& member) {
  OpenMember open(path, member);
  check_declared_size(open.source, open.header, open.header_size, open.reader->declared_size());
  return open.header;
}

Array read_npz(const std::string& path, const std::string& member, std::int64_t max_elements) {
  OpenMember open(path, member);
  check_element_limit(open.source, open.header, max_elements);
  check_declared_size(open.source, open.header, open.header_size, open.reader->declared_size());
  Array array = read_data(open.source, open.header, open.read);
  open.reader->check_at_end();
  return array;
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, Array>>& members, bool compressed) {
  NpySource source{path, {}};
  std::set<std::string> seen;
  std::vector<std::vector<unsigned char>> files;
  for (const auto& [name, array] : members) {
    if (climbs_out(name)) throw npy_error(source, fmt::format("member name \"{}\" is empty or unsafe", name));
    if (!seen.insert(name).second) throw npy_error(source, fmt::format("member \"{}\" given twice", name));
    files.push_back(encode_npy({path, name}, array));
  }
  if (members.empty()) {
    // libzip writes nothing for an empty archive; np.savez writes the bare end record.
    std::vector<unsigned char> empty(22, 0);
    const unsigned char signature[4] = {'P', 'K', 5, 6};
    std::copy(signature, signature + 4, empty.begin());
    write_output(path, std::string_view(reinterpret_cast<const char*>(empty.data()), empty.size()));
    return;
  }

  // The archive is built in memory, then written with the same temp-file-and-rename as .npy.
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* zip = buffer == nullptr ? nullptr : zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (zip == nullptr) {
    std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (buffer != nullptr) zip_source_free(buffer);
    throw npy_error(source, fmt::format("cannot create the archive: {}", reason));
  }
  zip_error_fini(&error);
  zip_source_keep(buffer);  // survives zip_close, which fills it
  auto fail = [&](const std::string& what) {
    std::string reason = zip_strerror(zip);
    zip_discard(zip);
    zip_source_free(buffer);
    return npy_error(source, fmt::format("cannot create the archive: {}: {}", what, reason));
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string entry = members[i].first + ".npy";
    zip_source_t* data = zip_source_buffer(zip, files[i].data(), files[i].size(), 0);
    if (data == nullptr) throw fail(entry);
    zip_int64_t index = zip_file_add(zip, entry.c_str(), data, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(data);
      throw fail(entry);
    }
    if (zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), compressed ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                 0) != 0) {
      throw fail(entry);
    }
  }
  if (zip_close(zip) != 0) throw fail("close");

  std::vector<unsigned char> bytes;
  zip_stat_t stat;
  zip_stat_init(&stat);
  bool ok = zip_source_stat(buffer, &stat) == 0 && zip_source_open(buffer) == 0;
  if (ok) {
    bytes.resize(stat.size);
    ok = zip_source_read(buffer, bytes.data(), bytes.size()) == static_cast<zip_int64_t>(bytes.size());
    zip_source_close(buffer);
  }
  zip_source_free(buffer);
  if (!ok) throw npy_error(source, "cannot create the archive: reading back the built archive failed");
  write_output(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace mhacheck
