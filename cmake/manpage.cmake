# Writes the man page mhacheck.1 from the CLI's own help, so that it never disagrees with
# `mhacheck --help`: the top-level help, then each subcommand's. Run at build time:
#   cmake -DMHACHECK=path/to/mhacheck -DVERSION=x.y.z -DOUTPUT=mhacheck.1 -P manpage.cmake
# CLI11's layout is read as it prints it: headings "Options:" at the left margin, entries
# indented by two spaces with the description after a run of spaces (or on the next lines,
# indented further), and free text (examples, exit codes) kept as it is.
foreach(variable MHACHECK VERSION OUTPUT)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "manpage.cmake needs -D${variable}=...")
  endif()
endforeach()

function(help_text output)
  execute_process(COMMAND "${MHACHECK}" ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${MHACHECK} ${ARGN} --help exited ${status}")
  endif()
  # The usage line names the program as it was invoked (a build path): the page names `mhacheck`.
  string(REPLACE "${MHACHECK}" "mhacheck" text "${text}")
  set(${output} "${text}" PARENT_SCOPE)
endfunction()

# Text for roff: backslashes escaped, hyphens as \- (so that options can be searched and copied),
# and CMake's list separators and brackets hidden so that the text can be split into lines.
function(roff_escape output text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REPLACE ";" "@SEMICOLON@" text "${text}")
  string(REPLACE "[" "@OPEN@" text "${text}")
  string(REPLACE "]" "@CLOSE@" text "${text}")
  set(${output} "${text}" PARENT_SCOPE)
endfunction()

# A line that roff would read as a request (leading . or ') is protected with \&.
function(roff_line output line)
  if(line MATCHES "^[.']")
    set(line "\\&${line}")
  endif()
  set(${output} "${line}" PARENT_SCOPE)
endfunction()

# One help text as man sections: `heading_macro` introduces its headings (.SH or .SS).
# The first line (the description) and the usage line are returned separately.
function(help_to_roff output description usage text heading_macro)
  roff_escape(text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(roff "")
  set(mode text)   # text | entries | verbatim
  set(first TRUE)
  foreach(line IN LISTS lines)
    roff_line(line "${line}")
    if(first)
      set(${description} "${line}" PARENT_SCOPE)
      set(first FALSE)
    elseif(line MATCHES "^Usage: (.*)$")
      set(${usage} "${CMAKE_MATCH_1}" PARENT_SCOPE)
    elseif(line STREQUAL "")
      if(mode STREQUAL "verbatim")
        string(APPEND roff ".fi\n")
      endif()
      set(mode text)
    elseif(line MATCHES "^([A-Z][A-Za-z ]*):$")
      if(mode STREQUAL "verbatim")
        string(APPEND roff ".fi\n")
      endif()
      string(TOUPPER "${CMAKE_MATCH_1}" heading)
      string(APPEND roff "${heading_macro} ${heading}\n")
      if(heading STREQUAL "EXAMPLES")
        string(APPEND roff ".nf\n")
        set(mode verbatim)
      else()
        set(mode entries)
      endif()
    elseif(mode STREQUAL "verbatim" AND line MATCHES "^  ")
      string(SUBSTRING "${line}" 2 -1 line)
      string(APPEND roff "${line}\n")
    elseif(mode STREQUAL "entries" AND line MATCHES "^   +(.*)$")
      string(APPEND roff "${CMAKE_MATCH_1}\n")
    elseif(mode STREQUAL "entries" AND line MATCHES "^  ([^ ].*[^ ])   *(.*)$")
      string(APPEND roff ".TP\n\\fB${CMAKE_MATCH_1}\\fR\n${CMAKE_MATCH_2}\n")
    elseif(mode STREQUAL "entries" AND line MATCHES "^  ([^ ].*)$")
      string(APPEND roff ".TP\n\\fB${CMAKE_MATCH_1}\\fR\n")
    else()
      if(mode STREQUAL "verbatim")
        string(APPEND roff ".fi\n")
      endif()
      set(mode text)
      string(APPEND roff ".PP\n${line}\n")
    endif()
  endforeach()
  if(mode STREQUAL "verbatim")
    string(APPEND roff ".fi\n")
  endif()
  set(${output} "${roff}" PARENT_SCOPE)
endfunction()

help_text(top)
help_to_roff(top_roff top_description top_usage "${top}" ".SH")
string(REGEX REPLACE "^mhacheck: " "" top_description "${top_description}")

# The subcommands are the entries under "Subcommands:" in the top-level help.
string(REGEX MATCH "\nSubcommands:\n(([ ][^\n]*\n)*)" block "${top}")
string(REGEX MATCHALL "\n  [a-z][a-z-]*" names "\n${CMAKE_MATCH_1}")
if(NOT names)
  message(FATAL_ERROR "no subcommands found in `${MHACHECK} --help`")
endif()

set(commands_roff "")
foreach(name IN LISTS names)
  string(STRIP "${name}" name)
  help_text(sub ${name})
  help_to_roff(sub_roff sub_description sub_usage "${sub}" ".TP\n.B")
  # Subcommand headings become indented labels under a .SS per subcommand.
  string(REPLACE ".TP\n.B " ".PP\n.I " sub_roff "${sub_roff}")
  string(APPEND commands_roff ".SS \"${sub_usage}\"\n${sub_description}\n${sub_roff}")
endforeach()

set(page ".TH MHACHECK 1 \"\" \"mhacheck ${VERSION}\" \"User Commands\"
.SH NAME
mhacheck \\- ${top_description}
.SH SYNOPSIS
${top_usage}
${top_roff}.SH COMMANDS
${commands_roff}.SH \"SEE ALSO\"
\\fBmhacheck explain \\-\\-all\\fR prints every diagnostic code.
The documentation, installed under share/doc/mhacheck, covers the spec format (spec\\-format.md),
\\fBmhacheck run\\fR (run.md), the JSON report (report\\-format.md) and CI set\\-ups (ci.md).
")
string(REPLACE "@SEMICOLON@" ";" page "${page}")
string(REPLACE "@OPEN@" "[" page "${page}")
string(REPLACE "@CLOSE@" "]" page "${page}")
file(WRITE "${OUTPUT}" "${page}")
