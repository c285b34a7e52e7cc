# accel board flow: Vivado non-project batch build of the Zynq-7000 overlay.
#
#   cd <this folder> && vivado -mode batch -source build.tcl
#
# Everything comes from params.tcl beside this file (written by `accel build`): the part and board
# part, the PS7 preset values, the FCLK0 clock, the accelerator (Vitis HLS IP zip or our RTL
# packaged here with ipx::), the AXI DMA stream width and the fixed address map. Writes, in this
# folder: <name>.bit and <name>.hwh (same base name, as PYNQ's Overlay needs), <name>.xsa,
# reports/utilization.rpt, reports/timing_summary.rpt, addresses.txt and build_done.txt last.
#
# Block design (cell names are part of the contract with the driver and the tests):
#   ps7       processing_system7: FCLK_CLK0 = accelerator clock, M_AXI_GP0 (control), S_AXI_HP0
#             (DMA to DDR), IRQ_F2P from irq_concat
#   rst       proc_sys_reset on FCLK_CLK0 / FCLK_RESET0_N
#   ctrl_ic   smartconnect GP0 -> dma/S_AXI_LITE (+ accel/s_axi_control for the HLS IP)
#   dma       axi_dma, simple mode (no SG), MM2S -> accel, accel -> S2MM, stream width = the accel's
#   mem_ic    smartconnect dma/M_AXI_MM2S + dma/M_AXI_S2MM -> ps7/S_AXI_HP0
#   accel     the accelerator (ACCEL(ip_vlnv))
#   wt_ic     (weights in DDR) smartconnect accel/m_axi_<layer> ... -> ps7/S_AXI_<weights_hp>;
#             accel/s_axi_ctrl (weights_base, run bit) on ctrl_ic/M01_AXI
#   irq_concat xlconcat: dma/mm2s_introut, dma/s2mm_introut (+ accel/interrupt) -> ps7/IRQ_F2P

set here [file dirname [file normalize [info script]]]
cd $here
source [file join $here params.tcl]
set name $ACCEL(name)
file mkdir reports
file delete -force build_done.txt

# ---------------------------------------------------------------------------------------------
# the accelerator as an IP in ./ip_repo (the RTL is packaged first, in its own scratch project)

file mkdir ip_repo
if {$ACCEL(backend) eq "rtl"} {
    source [file join $here package_rtl.tcl]
}

# ---------------------------------------------------------------------------------------------
# project (in memory), board part when the board file is installed

create_project -in_memory -part $ACCEL(part)
set use_preset 0
if {$ACCEL(board_part) ne ""} {
    if {[llength [get_board_parts -quiet $ACCEL(board_part)]] > 0} {
        set_property board_part $ACCEL(board_part) [current_project]
        set use_preset 1
    } else {
        puts "accel: board part $ACCEL(board_part) is not installed: using the explicit PS7 values"
    }
}
set_property target_language Verilog [current_project]

set_property ip_repo_paths [list [file join $here ip_repo]] [current_project]
update_ip_catalog -rebuild
if {$ACCEL(backend) ne "rtl"} {
    update_ip_catalog -add_ip [file join $here $ACCEL(ip_zip)] -repo_path [file join $here ip_repo]
}

# ---------------------------------------------------------------------------------------------
# block design

set bd accel_bd
file delete -force [file join $here bd]
create_bd_design -dir [file join $here bd] $bd
current_bd_design $bd

set ps7 [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config [list make_external "FIXED_IO, DDR" apply_board_preset $use_preset Master Disable \
             Slave Disable] $ps7
if {!$use_preset} {
    set_property -dict $ACCEL(ps7_config) $ps7
}
set_property -dict [list \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $ACCEL(clock_mhz) \
    CONFIG.PCW_EN_CLK0_PORT 1 \
    CONFIG.PCW_EN_RST0_PORT 1 \
    CONFIG.PCW_USE_M_AXI_GP0 1 \
    CONFIG.PCW_USE_S_AXI_HP0 1 \
    CONFIG.PCW_S_AXI_HP0_DATA_WIDTH 64 \
    CONFIG.PCW_USE_FABRIC_INTERRUPT 1 \
    CONFIG.PCW_IRQ_F2P_INTR 1 \
] $ps7

# Weights in DDR: every layer's AXI4 read master (64-bit, bursts of <= 16 beats, read only) goes
# through one SmartConnect onto one more HP port, 64 bits wide. Bandwidth: an HP port moves 8
# bytes per FCLK0 cycle (800 MB/s at 100 MHz) and its DDR controller port ~2.8 GB/s (UG585 ch.
# 22), while the weight reads of a tiled design are bytes_per_image (accel_rtl.json ddr) times
# images/s: the three DDR layers of tests/test_rtl_ddr_net.py read 1,480 B per image at the
# estimated 51,440 images/s, 76 MB/s, a tenth of one port; one shared port is the simple choice
# until a design needs more. HP2 rather than HP1: HP0/HP1 share one DDR controller port, HP2/HP3 the other, so the
# DMA's images and the weights do not queue behind each other (accel/flow/vivado.py WEIGHTS_HP).
set nweights [llength $ACCEL(ddr_masters)]
set hp $ACCEL(weights_hp)
if {$nweights > 0} {
    set_property -dict [list CONFIG.PCW_USE_S_AXI_$hp 1 CONFIG.PCW_S_AXI_${hp}_DATA_WIDTH 64] $ps7
}

set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst]

set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 dma]
set_property -dict [list \
    CONFIG.c_include_sg 0 \
    CONFIG.c_sg_include_stscntrl_strm 0 \
    CONFIG.c_sg_length_width $ACCEL(dma_length_width) \
    CONFIG.c_include_mm2s 1 \
    CONFIG.c_include_s2mm 1 \
    CONFIG.c_m_axi_mm2s_data_width 32 \
    CONFIG.c_m_axis_mm2s_tdata_width $ACCEL(stream_bits) \
    CONFIG.c_m_axi_s2mm_data_width 32 \
    CONFIG.c_s_axis_s2mm_tdata_width $ACCEL(stream_bits) \
    CONFIG.c_mm2s_burst_size 16 \
    CONFIG.c_s2mm_burst_size 16 \
] $dma

set accel [create_bd_cell -type ip -vlnv $ACCEL(ip_vlnv) accel]

set nctrl [expr {$ACCEL(s_axilite) eq "" ? 1 : 2}]
set ctrl_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 ctrl_ic]
set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI $nctrl] $ctrl_ic
set mem_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 mem_ic]
set_property -dict [list CONFIG.NUM_SI 2 CONFIG.NUM_MI 1] $mem_ic
set clocked [list]
if {$nweights > 0} {
    set wt_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 wt_ic]
    set_property -dict [list CONFIG.NUM_SI $nweights CONFIG.NUM_MI 1] $wt_ic
    set clocked [list [get_bd_pins ps7/S_AXI_${hp}_ACLK] [get_bd_pins wt_ic/aclk]]
}

set nirq [expr {$ACCEL(interrupt) eq "" ? 2 : 3}]
set irq [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat:2.1 irq_concat]
set_property -dict [list CONFIG.NUM_PORTS $nirq] $irq

# clock and reset: everything on FCLK_CLK0
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins ps7/M_AXI_GP0_ACLK] \
    [get_bd_pins ps7/S_AXI_HP0_ACLK] [get_bd_pins rst/slowest_sync_clk] \
    [get_bd_pins dma/s_axi_lite_aclk] [get_bd_pins dma/m_axi_mm2s_aclk] \
    [get_bd_pins dma/m_axi_s2mm_aclk] [get_bd_pins ctrl_ic/aclk] [get_bd_pins mem_ic/aclk] \
    [get_bd_pins accel/$ACCEL(clock_pin)] {*}$clocked
connect_bd_net [get_bd_pins ps7/FCLK_RESET0_N] [get_bd_pins rst/ext_reset_in]
connect_bd_net [get_bd_pins rst/peripheral_aresetn] [get_bd_pins dma/axi_resetn] \
    [get_bd_pins ctrl_ic/aresetn] [get_bd_pins mem_ic/aresetn] \
    [get_bd_pins accel/$ACCEL(reset_pin)] \
    {*}[expr {$nweights > 0 ? [list [get_bd_pins wt_ic/aresetn]] : {}}]

# control: GP0 -> DMA registers (+ the HLS block-level control)
connect_bd_intf_net [get_bd_intf_pins ps7/M_AXI_GP0] [get_bd_intf_pins ctrl_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M00_AXI] [get_bd_intf_pins dma/S_AXI_LITE]
if {$ACCEL(s_axilite) ne ""} {
    connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M01_AXI] \
        [get_bd_intf_pins accel/$ACCEL(s_axilite)]
}

# data: DDR -> MM2S -> accel -> S2MM -> DDR
connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins accel/$ACCEL(s_axis)]
connect_bd_intf_net [get_bd_intf_pins accel/$ACCEL(m_axis)] [get_bd_intf_pins dma/S_AXIS_S2MM]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_MM2S] [get_bd_intf_pins mem_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_S2MM] [get_bd_intf_pins mem_ic/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins mem_ic/M00_AXI] [get_bd_intf_pins ps7/S_AXI_HP0]

# weights: accel/m_axi_<layer> -> wt_ic -> ps7/S_AXI_<weights_hp> -> DDR
set i 0
foreach m $ACCEL(ddr_masters) {
    connect_bd_intf_net [get_bd_intf_pins accel/$m] [get_bd_intf_pins wt_ic/[format S%02d_AXI $i]]
    incr i
}
if {$nweights > 0} {
    connect_bd_intf_net [get_bd_intf_pins wt_ic/M00_AXI] [get_bd_intf_pins ps7/S_AXI_$hp]
}

# interrupts
connect_bd_net [get_bd_pins dma/mm2s_introut] [get_bd_pins irq_concat/In0]
connect_bd_net [get_bd_pins dma/s2mm_introut] [get_bd_pins irq_concat/In1]
if {$ACCEL(interrupt) ne ""} {
    connect_bd_net [get_bd_pins accel/$ACCEL(interrupt)] [get_bd_pins irq_concat/In2]
}
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins ps7/IRQ_F2P]

# fixed address map (the same numbers are in the overlay's accel_overlay.json)
assign_bd_address -offset $ACCEL(dma_base) -range $ACCEL(dma_range) \
    -target_address_space [get_bd_addr_spaces ps7/Data] \
    [get_bd_addr_segs dma/S_AXI_LITE/Reg] -force
if {$ACCEL(s_axilite) ne ""} {
    assign_bd_address -offset $ACCEL(ctrl_base) -range $ACCEL(ctrl_range) \
        -target_address_space [get_bd_addr_spaces ps7/Data] \
        [get_bd_addr_segs accel/$ACCEL(s_axilite)/Reg] -force
}
foreach space {Data_MM2S Data_S2MM} {
    assign_bd_address -offset 0x00000000 -range $ACCEL(ddr_range) \
        -target_address_space [get_bd_addr_spaces dma/$space] \
        [get_bd_addr_segs ps7/S_AXI_HP0/HP0_DDR_LOWOCM] -force
}
# the weight masters see all of DDR at its physical addresses (the driver writes the physical
# address of its weight buffer into weights_base)
foreach m $ACCEL(ddr_masters) {
    assign_bd_address -offset 0x00000000 -range $ACCEL(ddr_range) \
        -target_address_space [get_bd_addr_spaces accel/$m] \
        [get_bd_addr_segs ps7/S_AXI_$hp/${hp}_DDR_LOWOCM] -force
}
set f [open addresses.txt w]
puts $f "dma $ACCEL(dma_base) $ACCEL(dma_range)"
if {$ACCEL(s_axilite) ne ""} { puts $f "accel $ACCEL(ctrl_base) $ACCEL(ctrl_range)" }
puts $f "ddr 0x00000000 $ACCEL(ddr_range)"
foreach m $ACCEL(ddr_masters) { puts $f "$m S_AXI_$hp 0x00000000 $ACCEL(ddr_range)" }
close $f

validate_bd_design
save_bd_design

# ---------------------------------------------------------------------------------------------
# synthesis, implementation, bitstream, hardware handoff

set bd_file [get_files ${bd}.bd]
set_property synth_checkpoint_mode None $bd_file
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
if {$wrapper eq "" || ![file exists $wrapper]} {
    set wrapper [lindex [glob -nocomplain [file join $here bd $bd hdl ${bd}_wrapper.v]] 0]
}
read_verilog $wrapper

synth_design -top ${bd}_wrapper -part $ACCEL(part) -flatten_hierarchy rebuilt
opt_design
place_design
phys_opt_design
route_design
report_utilization -file reports/utilization.rpt
report_timing_summary -max_paths 10 -file reports/timing_summary.rpt
write_bitstream -force ${name}.bit

# the .hwh of the block design, under the bitstream's base name (PYNQ loads <name>.bit + <name>.hwh)
set hwh [lindex [get_files -quiet -all -of_objects $bd_file *.hwh] 0]
if {$hwh eq ""} {
    set hwh [lindex [glob -nocomplain [file join $here bd $bd hw_handoff ${bd}.hwh]] 0]
}
if {$hwh eq ""} { error "accel: no .hwh was generated for $bd" }
file copy -force $hwh ${name}.hwh
catch {write_hw_platform -fixed -include_bit -force -file ${name}.xsa}

set f [open build_done.txt w]
puts $f "${name}.bit ${name}.hwh"
close $f
puts "accel: wrote [file join $here ${name}.bit] and ${name}.hwh"
