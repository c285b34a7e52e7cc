# Stand-in for the Vivado commands vivado/*.tcl uses, for running the board flow under plain
# tclsh in the tests (no Vivado here). Every call is appended to $env(STUB_LOG) as one line:
#   call<TAB>command<TAB>arg<TAB>arg...        (tabs/newlines in arguments escaped as \t \n)
#   prop<TAB>object<TAB>name<TAB>value         (each property set by set_property, -dict expanded)
# Commands that return objects return their names; files Vivado would write are created (the
# bitstream, the .hwh, the wrapper, reports: copies of $env(STUB_REPORTS)/*.rpt when set).
# A command the flow calls that is not listed here is an error (a typo must not pass silently).

namespace eval ipx {}
set ::stub_log [open $env(STUB_LOG) a]
set ::stub_bd_dir ""
set ::stub_bd ""
set ::stub_hwh ""

proc stub_esc {s} { string map [list "\t" {\t} "\n" {\n}] $s }
proc stub_record {kind args} {
    set parts [list $kind]
    foreach a $args { lappend parts [stub_esc $a] }
    puts $::stub_log [join $parts "\t"]
    flush $::stub_log
}
proc stub_opt {args name {default ""}} {
    set i [lsearch -exact $args $name]
    if {$i < 0} { return $default }
    return [lindex $args [expr {$i + 1}]]
}
proc stub_touch {path text} {
    file mkdir [file dirname $path]
    set f [open $path w]; puts $f $text; close $f
}

# generic commands: recorded, return ""
foreach cmd {
    create_project close_project update_ip_catalog current_bd_design apply_bd_automation
    connect_bd_net connect_bd_intf_net assign_bd_address validate_bd_design save_bd_design
    read_verilog add_files update_compile_order synth_design opt_design place_design
    phys_opt_design route_design write_hw_platform
    ipx::package_project ipx::infer_bus_interfaces ipx::associate_bus_interfaces
    ipx::create_xgui_files ipx::update_checksums ipx::check_integrity ipx::save_core
    ipx::remove_memory_map ipx::get_address_spaces ipx::get_memory_maps
} {
    proc $cmd {args} "stub_record call [list $cmd] {*}\$args; return {}"
}
# object getters: recorded, return their argument (the object's name)
foreach cmd {get_bd_pins get_bd_intf_pins get_bd_addr_spaces get_bd_addr_segs get_bd_cells
             ipx::get_bus_parameters ipx::get_bus_interfaces} {
    proc $cmd {args} "stub_record call [list $cmd] {*}\$args; return \[lindex \$args end\]"
}
proc current_project {args} { stub_record call current_project {*}$args; return accel_project }
proc current_fileset {args} { stub_record call current_fileset {*}$args; return sources_1 }
# ipx::add_*: recorded, return "<kind>:<name>" (the properties set on it are then told apart);
# the getters above return "" (nothing inferred: the flow adds its own)
foreach {cmd kind} {ipx::add_address_space space ipx::add_memory_map map
                    ipx::add_address_block block} {
    proc $cmd {args} "stub_record call [list $cmd] {*}\$args; return $kind:\[lindex \$args 0\]"
}
proc ipx::current_core {args} { stub_record call ipx::current_core {*}$args; return accel_core }

proc get_board_parts {args} {
    stub_record call get_board_parts {*}$args
    set installed [expr {[info exists ::env(STUB_BOARD_PARTS)] ? $::env(STUB_BOARD_PARTS) : ""}]
    set want [lindex $args end]
    return [expr {[lsearch -exact $installed $want] >= 0 ? $want : ""}]
}
proc set_property {args} {
    stub_record call set_property {*}$args
    set args [lsearch -all -inline -not -exact $args -quiet]
    if {[lindex $args 0] eq "-dict"} {
        set obj [lindex $args 2]
        foreach {k v} [lindex $args 1] { stub_record prop $obj $k $v }
    } else {
        lassign $args name value obj
        stub_record prop $obj $name $value
    }
}
proc create_bd_design {args} {
    stub_record call create_bd_design {*}$args
    set ::stub_bd [lindex $args end]
    set ::stub_bd_dir [file join [stub_opt $args -dir [pwd]] $::stub_bd]
    stub_touch [file join $::stub_bd_dir $::stub_bd.bd] "stub block design"
}
proc create_bd_cell {args} {
    stub_record call create_bd_cell {*}$args
    return [lindex $args end]
}
proc get_files {args} {
    stub_record call get_files {*}$args
    set pattern [lindex $args end]
    if {[string match *.hwh $pattern]} { return $::stub_hwh }
    if {[string match *.bd $pattern]} { return [file join $::stub_bd_dir $::stub_bd.bd] }
    return $pattern
}
proc generate_target {args} {
    stub_record call generate_target {*}$args
    set ::stub_hwh [file join $::stub_bd_dir hw_handoff $::stub_bd.hwh]
    stub_touch $::stub_hwh "<?xml version=\"1.0\"?><EDKSYSTEM><!-- stub hwh of $::stub_bd --></EDKSYSTEM>"
}
proc make_wrapper {args} {
    stub_record call make_wrapper {*}$args
    set path [file join $::stub_bd_dir hdl ${::stub_bd}_wrapper.v]
    stub_touch $path "module ${::stub_bd}_wrapper(); endmodule"
    return $path
}
proc stub_report {cmd name args} {
    stub_record call $cmd {*}$args
    set path [stub_opt $args -file]
    if {[info exists ::env(STUB_REPORTS)]} {
        file mkdir [file dirname $path]
        file copy -force [file join $::env(STUB_REPORTS) $name] $path
    } else {
        stub_touch $path "stub $cmd"
    }
}
proc report_utilization {args} { stub_report report_utilization utilization.rpt {*}$args }
proc report_timing_summary {args} { stub_report report_timing_summary timing_summary.rpt {*}$args }
proc write_bitstream {args} {
    stub_record call write_bitstream {*}$args
    stub_touch [lindex $args end] "stub bitstream"
}
