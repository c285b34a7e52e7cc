# accel board flow: package our RTL accelerator (accel rtl) as an IP with ipx:: into ./ip_repo.
# Sourced by build.tcl when ACCEL(backend) is rtl; uses ACCEL(rtl_top), ACCEL(rtl_files),
# ACCEL(rtl_mem_files) and ACCEL(ip_vlnv) from params.tcl (paths relative to this folder).
#
# The top's ports (the contract with accel/rtl): ap_clk, ap_rst_n (active low),
# s_axis_tdata/tvalid/tready/tlast, m_axis_tdata/tvalid/tready/tlast/tkeep; no AXI-Lite for an
# on-chip design. A design with weights in DDR is packaged as its board top (accel_board): also
# ACCEL(s_axilite) (accel_ctrl's registers, one address block "Reg" of ACCEL(ctrl_range) bytes)
# and the AXI4 read masters ACCEL(ddr_masters) (each its own 4 GB, 32-bit address space).
# ipx:: infers the AXI4-Stream and AXI4(-Lite) interfaces from the port names; the clock and
# reset association, the memory map and the address spaces are set explicitly below.

set pkg_dir [file join $here ip_repo accel_rtl]
file delete -force $pkg_dir rtl_pkg
lassign [split $ACCEL(ip_vlnv) :] vendor library ipname version

# a scratch on-disk project only for ipx::package_project (it packages a project's sources)
create_project -force accel_rtl_pkg [file join $here rtl_pkg] -part $ACCEL(part)
foreach f $ACCEL(rtl_files) { add_files -norecurse [file join $here $f] }
foreach f $ACCEL(rtl_mem_files) {
    add_files -norecurse [file join $here $f]
    set_property file_type {Memory Initialization Files} [get_files [file join $here $f]]
}
set_property top $ACCEL(rtl_top) [current_fileset]
update_compile_order -fileset sources_1

ipx::package_project -root_dir $pkg_dir -vendor $vendor -library $library -taxonomy /UserIP \
    -import_files -set_current true
set core [ipx::current_core]
set_property name $ipname $core
set_property version $version $core
set_property display_name "accel SqueezeNet (RTL)" $core
ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core
ipx::associate_bus_interfaces -busif s_axis -clock ap_clk $core
ipx::associate_bus_interfaces -busif m_axis -clock ap_clk $core
if {$ACCEL(s_axilite) ne "" || [llength $ACCEL(ddr_masters)] > 0} {
    ipx::infer_bus_interfaces xilinx.com:interface:aximm_rtl:1.0 $core
}
foreach m $ACCEL(ddr_masters) {
    ipx::associate_bus_interfaces -busif $m -clock ap_clk $core
    set space [ipx::get_address_spaces -quiet $m -of_objects $core]
    if {$space eq ""} { set space [ipx::add_address_space $m $core] }
    set_property range 4G $space
    set_property width 32 $space
    set_property master_address_space_ref $m [ipx::get_bus_interfaces $m -of_objects $core]
}
if {$ACCEL(s_axilite) ne ""} {
    set lite $ACCEL(s_axilite)
    ipx::associate_bus_interfaces -busif $lite -clock ap_clk $core
    # one explicit block named Reg (build.tcl assigns accel/$lite/Reg), whatever ipx inferred
    foreach old [ipx::get_memory_maps -quiet $lite -of_objects $core] {
        ipx::remove_memory_map $lite $core
    }
    set map [ipx::add_memory_map $lite $core]
    set_property slave_memory_map_ref $lite [ipx::get_bus_interfaces $lite -of_objects $core]
    set block [ipx::add_address_block Reg $map]
    set_property range [expr {$ACCEL(ctrl_range)}] $block
    set_property width 32 $block
}
ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core
set_property value ACTIVE_LOW [ipx::get_bus_parameters POLARITY \
    -of_objects [ipx::get_bus_interfaces ap_rst_n -of_objects $core]]
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project
